import Glibc
import ShimSystem
import SystemPackage
import XCTest
@testable import ShimCore

/// The attach endpoints around the runtime's create and exec: made before
/// the runtime runs (so an engine can connect as early as with conmon),
/// removed after a failure or left (CreateOptions/ExecOptions
/// .keepEndpointsAfterFailure), their clients accepted at once or only once
/// the process exists (.attachClientsWaitForProcess).
final class InProcessAttachEndpointsTests: XCTestCase {
    /// `<bundle>/attach` itself, no socket-dir link.
    private func fullAttach(_ shim: InProcessShim) -> CreateOptions {
        var options = shim.createOptions()
        options.fullAttach = true
        return options
    }

    // --- before the runtime -----------------------------------------------------------

    func testTheAttachSocketListensBeforeTheRuntimeRuns() throws {
        let shim = try InProcessShim()
        let socket = shim.bundle + "/attach"
        var connected: Bool?
        shim.runtime.onCreate = { _ in
            let client = try? attachClient(socket)
            connected = client != nil
            try? client?.close()
        }
        _ = try XCTUnwrap(shim.result { shim.core.create(fullAttach(shim), $0) }).get()
        XCTAssertEqual(connected, true, "nothing listened on \(socket) while the runtime ran")
    }

    /// A front end's own files go in after the core's endpoints and before
    /// the runtime; its error fails the create before the runtime runs.
    func testBeforeRuntimeComesAfterTheEndpointsAndCanFailTheCreate() throws {
        let shim = try InProcessShim()
        var seen: [String] = []
        let hook = { () throws(CoreError) -> Void in
            seen.append(isSocket(shim.bundle + "/attach") ? "socket" : "no socket")
            seen.append(shim.runtime.calls.contains("create") ? "runtime ran" : "runtime to come")
        }
        _ = try XCTUnwrap(shim.result { shim.core.create(fullAttach(shim), beforeRuntime: hook, $0) }).get()
        XCTAssertEqual(seen, ["socket", "runtime to come"])

        let other = try InProcessShim()
        let failed = try XCTUnwrap(other.result { done in
            other.core.create(fullAttach(other), beforeRuntime: { () throws(CoreError) in
                throw CoreError(.runtimeFailed, "refused before the runtime")
            }, done)
        })
        XCTAssertEqual(failed.failure?.message, "refused before the runtime")
        XCTAssertEqual(other.runtime.calls, [], "the runtime never ran")
        XCTAssertFalse(other.core.holdsContainer)
        XCTAssertFalse(exists(other.bundle + "/attach"), "what the create made is removed")
    }

    // --- after a failed create --------------------------------------------------------

    /// A create the runtime refuses, with a socket-dir link and `keep`.
    private func failedCreate(keep: Bool) throws -> InProcessShim {
        let shim = try InProcessShim()
        shim.runtime.failures["create"] = CoreError(.runtimeFailed, "no")
        var options = shim.createOptions()
        options.socketDir = shim.dir + "/sockets"
        options.keepEndpointsAfterFailure = keep
        XCTAssertNotNil(try XCTUnwrap(shim.result { shim.core.create(options, $0) }).failure)
        return shim
    }

    /// `ocishim serve`'s way: a failed create leaves none of its endpoints.
    func testAFailedCreateRemovesTheEndpointsItMade() throws {
        let shim = try failedCreate(keep: false)
        for name in ["attach", "ctl"] { XCTAssertFalse(exists(shim.bundle + "/" + name), name) }
        XCTAssertFalse(exists(shim.dir + "/sockets/c1"), "the socket-dir link")
    }

    /// conmon's way: the files stay where they were made, nothing listens.
    func testAFailedCreateLeavesItsEndpointsWhenAsked() throws {
        let shim = try failedCreate(keep: true)
        XCTAssertTrue(isSocket(shim.bundle + "/attach"))
        XCTAssertTrue(exists(shim.bundle + "/ctl"))
        XCTAssertTrue(exists(shim.dir + "/sockets/c1"), "the socket-dir link")
        XCTAssertThrowsError(try attachClient(shim.bundle + "/attach"), "the shim still listens") { error in
            XCTAssertEqual((error as? SystemError)?.errno, .connectionRefused)
        }
    }

    // --- clients that come before the process -------------------------------------------

    func testClientsWaitingForTheProcessAreResetWhenTheCreateFails() throws {
        let shim = try InProcessShim()
        var options = fullAttach(shim)
        options.attachClientsWaitForProcess = true
        options.keepEndpointsAfterFailure = true
        shim.runtime.failures["create"] = CoreError(.runtimeFailed, "no")
        shim.runtime.hold = ["create"]
        var answer: Result<Int32, CoreError>?
        shim.core.create(options) { answer = $0 }
        shim.settle()
        let client = try attachClient(shim.bundle + "/attach")
        defer { try? client.close() }
        shim.settle()
        XCTAssertEqual(peek(client), .error(EAGAIN), "waiting")
        shim.runtime.release("create")
        shim.settle()
        XCTAssertNotNil(try XCTUnwrap(answer).failure)
        XCTAssertEqual(peek(client), .error(ECONNRESET), "never accepted, as conmon never serves it")
    }

    func testClientsAcceptedAtOnceGetAnOrderlyEndWhenTheCreateFails() throws {
        let shim = try InProcessShim()
        shim.runtime.failures["create"] = CoreError(.runtimeFailed, "no")
        shim.runtime.hold = ["create"]
        var answer: Result<Int32, CoreError>?
        shim.core.create(fullAttach(shim)) { answer = $0 }
        shim.settle()
        let client = try attachClient(shim.bundle + "/attach")
        defer { try? client.close() }
        shim.settle()
        shim.runtime.release("create")
        shim.settle()
        XCTAssertNotNil(try XCTUnwrap(answer).failure)
        XCTAssertEqual(peek(client), .eof)
    }

    func testClientsWaitingForTheProcessAreAcceptedOnceItExists() throws {
        let shim = try InProcessShim()
        var options = fullAttach(shim)
        options.attachClientsWaitForProcess = true
        shim.runtime.hold = ["create"]
        shim.core.create(options) { _ in }
        shim.settle()
        let client = try attachClient(shim.bundle + "/attach")
        defer { try? client.close() }
        shim.runtime.release("create")
        shim.settle()
        let stdout = try XCTUnwrap(shim.runtime.containerStdout["c1"])
        _ = "hello\n".withCString { write(stdout, $0, 6) }
        shim.settle()
        XCTAssertEqual(peek(client), .data([2] + Array("hello\n".utf8)))
    }

    // --- exec sessions -----------------------------------------------------------------

    private func failingExec(_ shim: InProcessShim, keep: Bool) throws -> (dir: String, client: FileDescriptor) {
        try shim.createAndStart()
        let dir = shim.dir + "/exec-e1"
        try FileSystem.createDirectory(dir)
        var options = ExecOptions(execID: "e1", args: ["true"])
        options.directory = dir
        options.fullAttach = true
        options.keepEndpointsAfterFailure = keep
        options.attachClientsWaitForProcess = keep
        XCTAssertNil(try shim.core.registerExec(options).get())
        let client = try attachClient(dir + "/attach")
        shim.settle()
        shim.runtime.failures["exec"] = CoreError(.runtimeFailed, "no such binary")
        XCTAssertNotNil(try XCTUnwrap(shim.result { shim.core.startExec("e1", $0) }).failure)
        return (dir, client)
    }

    func testAFailedExecLeavesItsAttachSocketWhenAsked() throws {
        let shim = try InProcessShim()
        let (dir, client) = try failingExec(shim, keep: true)
        defer { try? client.close() }
        XCTAssertTrue(isSocket(dir + "/attach"))
        XCTAssertFalse(exists(dir + "/process.json"), "the shim's own files go")
        XCTAssertEqual(peek(client), .error(ECONNRESET))
    }

    func testAFailedExecRemovesItsAttachSocketByDefault() throws {
        let shim = try InProcessShim()
        let (dir, client) = try failingExec(shim, keep: false)
        defer { try? client.close() }
        XCTAssertFalse(exists(dir + "/attach"))
        XCTAssertEqual(peek(client), .eof)
    }
}

// --- helpers ---------------------------------------------------------------------------

private func attachClient(_ path: String) throws -> FileDescriptor {
    try UnixSocket.connect(path: path, type: Int32(SOCK_SEQPACKET.rawValue))
}

private enum Peeked: Equatable {
    case data([UInt8])
    case eof
    case error(Int32)
}

/// What the client can read now, without waiting.
private func peek(_ client: FileDescriptor) -> Peeked {
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = buffer.withUnsafeMutableBytes { recv(client.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
    if n > 0 { return .data(Array(buffer[0..<n])) }
    return n == 0 ? .eof : .error(errno)
}

private func exists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

private func isSocket(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK
}
