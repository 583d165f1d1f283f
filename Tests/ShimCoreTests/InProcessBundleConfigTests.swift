import Glibc
import ShimSystem
import XCTest
@testable import ShimCore

/// CreateOptions.readBundleConfig: by default the core reads config.json
/// before the runtime runs and refuses what it cannot use; without it
/// (conmon's way) the runtime runs as asked and its error is the answer.
final class InProcessBundleConfigTests: XCTestCase {
    func testByDefaultAMissingConfigJSONFailsBeforeTheRuntime() throws {
        let shim = try InProcessShim()
        try FileSystem.removeFile(shim.bundle + "/config.json")
        let failed = try XCTUnwrap(shim.result { shim.core.create(shim.createOptions(), $0) })
        XCTAssertTrue(failed.failure?.message.contains("cannot read config.json") ?? false, "\(failed)")
        XCTAssertEqual(shim.runtime.calls, [])
    }

    func testWithoutReadingItTheRuntimeReportsAMissingConfigJSON() throws {
        let shim = try InProcessShim()
        try FileSystem.removeFile(shim.bundle + "/config.json")
        shim.runtime.failures["create"] = CoreError(.runtimeFailed, "JSON specification file config.json not found")
        var options = shim.createOptions()
        options.readBundleConfig = false
        let failed = try XCTUnwrap(shim.result { shim.core.create(options, $0) })
        XCTAssertEqual(failed.failure?.message, "JSON specification file config.json not found")
        XCTAssertEqual(shim.runtime.calls, ["create"])
    }

    /// The terminal is the option's: a console socket for the runtime even
    /// where config.json has process.terminal false (the runtime refuses it),
    /// and none where config.json asks for one and the option does not.
    func testWithoutReadingItTheTerminalIsTheOptions() throws {
        let shim = try InProcessShim()
        var options = shim.createOptions()
        options.readBundleConfig = false
        options.terminal = true
        shim.runtime.failures["create"] = CoreError(.runtimeFailed, "cannot use console socket if runc will not detach or allocate tty")
        XCTAssertNotNil(try XCTUnwrap(shim.result { shim.core.create(options, $0) }).failure)
        XCTAssertNotNil(shim.runtime.createRequests.last?.stdio.consoleSocket, "no console socket for the runtime")

        let other = try InProcessShim()
        try FileSystem.writeAtomically(other.bundle + "/config.json",
                                       #"{"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}"#)
        var plain = other.createOptions()
        plain.readBundleConfig = false
        _ = try XCTUnwrap(other.result { other.core.create(plain, $0) }).get()
        XCTAssertNil(other.runtime.createRequests.last?.stdio.consoleSocket)
        XCTAssertEqual(other.runtime.createRequests.last?.stdio.fds.count, 3, "pipes, as -t was not given")
    }
}
