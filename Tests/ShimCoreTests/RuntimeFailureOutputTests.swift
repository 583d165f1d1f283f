import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// What a failed runtime leaves for an engine that passes it on as it is
/// (conmon hands the engine the runtime's stderr and reports its status).
final class RuntimeFailureOutputTests: XCTestCase {
    func testTheRuntimesStderrAndStatusAreKeptAsWritten() {
        let stderr = Array("time=\"2026-01-01T00:00:00Z\" level=error msg=\"runc create failed: x\"\n".utf8)
        let error = RuntimeFailure.error(runtime: "runc", operation: "create", jsonLog: nil, stderr: stderr,
                                         termination: .exited(1), timedOut: false, timeoutSeconds: 10)
        XCTAssertEqual(error.runtimeOutput, stderr)
        XCTAssertEqual(error.runtimeStatus, 1)
        let killed = RuntimeFailure.error(runtime: "runc", operation: "create", jsonLog: nil, stderr: [],
                                          termination: .signaled(9), timedOut: false, timeoutSeconds: 10)
        XCTAssertNil(killed.runtimeOutput)
        XCTAssertEqual(killed.runtimeStatus, 137)
        let long = RuntimeFailure.error(runtime: "runc", operation: "create", jsonLog: nil,
                                        stderr: [UInt8](repeating: 0x41, count: 20000),
                                        termination: .exited(1), timedOut: false, timeoutSeconds: 10)
        XCTAssertEqual(long.runtimeOutput?.count, CoreError.runtimeOutputLimit)
    }

    /// The runtime shares the container's stderr pipe during create: what
    /// it wrote there is taken with one read, as conmon takes it.
    func testWhatTheRuntimeLeftInThePipesIsTaken() throws {
        let io = try ContainerIO.pipes(stdin: false)
        defer { io.close() }
        let stderrEnd = try XCTUnwrap(io.runtimeStdio.first { $0.child == .standardError }?.parent)
        let text = "runc create failed: nope\n"
        XCTAssertEqual(text.withCString { write(stderrEnd.rawValue, $0, strlen($0)) }, text.utf8.count)
        io.runtimeFinished()
        XCTAssertEqual(io.takeRuntimeStderr(), Array(text.utf8))
        XCTAssertEqual(io.takeRuntimeStderr(), [], "nothing more, and no waiting")
    }

    /// A runtime path taken as given resolves to whatever is there (the
    /// engine checked it; running it tells), where a plain path must be a
    /// regular file.
    func testARuntimePathAsGivenIsNotExamined() throws {
        let dir = try TemporaryDirectory.make(prefix: "rtsel")
        defer { try? FileSystem.removeTree(dir) }
        var selection = RuntimeSelection(dir)
        XCTAssertThrowsError(try RuntimeLocator.resolve(selection))
        selection.asGiven = true
        XCTAssertEqual(try RuntimeLocator.resolve(selection).path, dir)
    }
}
