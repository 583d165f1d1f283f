import Glibc
import SystemPackage
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// Exec sessions as an engine with a monitor per session drives them
/// (conmon's exec mode): joined on the engine's word, output logged to the
/// session's own log drivers, that log reopened on request.
final class InProcessExecEngineTests: XCTestCase {
    func testJoiningOnTheEnginesWordAsksTheRuntimeNothing() throws {
        let shim = try InProcessShim()
        let joined = try XCTUnwrap(shim.result { done in shim.core.joinForExecs(shim.createOptions(), askRuntime: false, done) })
        XCTAssertEqual(try joined.get(), 0, "no init pid is known")
        XCTAssertFalse(shim.runtime.calls.contains("state"))
        var options = ExecOptions(execID: "e1", args: ["true"])
        options.directory = shim.dir + "/e1"
        XCTAssertNil(try shim.core.registerExec(options).get())
        XCTAssertNotNil(try XCTUnwrap(shim.result { done in shim.core.startExec("e1", done) }).get())
        XCTAssertTrue(shim.runtime.calls.contains("exec"))
    }

    func testAnExecSessionsOutputGoesToItsLogWhichReopensAsAsked() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        let logPath = shim.dir + "/exec.log"
        var options = ExecOptions(execID: "e1", args: ["true"])
        var log = LogOptions()
        log.drivers = [.k8sFile(path: logPath)]
        log.reopenStartsOver = true
        options.log = log
        options.attachSocket = false
        XCTAssertNil(try shim.core.registerExec(options).get())
        XCTAssertTrue(FileSystem.isRegularFile(logPath), "the log is opened at registration")
        XCTAssertNil(shim.core.attachSocketPath(execID: "e1"), "no attach socket asked for")
        // What the process writes, already in its stdout pipe when it starts.
        let io = try XCTUnwrap(shim.core.currentContainer?.execs.session("e1").process.io)
        let stdout = try XCTUnwrap(io.runtimeStdio.first { $0.child == .standardOutput }?.parent)
        let text = "exec says hi\n"
        XCTAssertEqual(text.withCString { write(stdout.rawValue, $0, strlen($0)) }, text.utf8.count)
        let pid = try XCTUnwrap(shim.result { done in shim.core.startExec("e1", done) }).get()
        shim.settle()
        XCTAssertTrue(try String(decoding: FileSystem.read(logPath), as: UTF8.self).hasSuffix(" stdout F exec says hi\n"))

        XCTAssertNotNil(try XCTUnwrap(shim.result { done in shim.core.reopenLog(execID: "e1", done) }).get())
        XCTAssertEqual(try FileSystem.read(logPath), [], "started over, as conmon reopens")
        XCTAssertEqual(shim.result { done in shim.core.reopenLog(execID: "nope", done) }.flatMap { $0.failure?.kind }, .notFound)
        shim.processes.exit(pid, .exited(0))
        shim.settle()
    }

    /// The engine's own stdio for the process (conmon's -l passthrough on
    /// exec): the runtime gets those fds, the shim reads nothing.
    func testProvidedStdioGoesToTheRuntimeAsItIs() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        let devnull = FileDescriptor(rawValue: open("/dev/null", O_RDWR | O_CLOEXEC))
        defer { try? devnull.close() }
        var options = ExecOptions(execID: "e1", args: ["true"])
        options.providedStdio = [devnull, devnull, devnull]
        options.attachSocket = false
        XCTAssertNil(try shim.core.registerExec(options).get())
        let io = try XCTUnwrap(shim.core.currentContainer?.execs.session("e1").process.io)
        XCTAssertEqual(io.mode, .passthrough)
        XCTAssertEqual(io.runtimeStdio.map(\.child), [.standardInput, .standardOutput, .standardError])
        XCTAssertNil(io.stdoutFD, "nothing for the shim to read")
        var terminal = ExecOptions(execID: "e2", args: ["true"])
        terminal.providedStdio = [devnull, devnull, devnull]
        terminal.terminal = true
        XCTAssertEqual(shim.core.registerExec(terminal).failure?.kind, .invalidArgument)
    }
}
