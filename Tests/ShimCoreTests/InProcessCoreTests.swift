import Glibc
import ShimSystem
import XCTest
@testable import ShimCore

/// The core's own logic, driven in-process on an in-test runtime and a
/// clock moved by hand: stop escalation, the order of lifecycle events,
/// exec bookkeeping, checkpoint exits, attach fan-out. No process is
/// spawned and nothing sleeps; the real-runc behaviour is covered by
/// Tests/ShimIntegrationTests.
final class InProcessCoreTests: XCTestCase {
    // --- stop escalation ------------------------------------------------------------

    func testStopEscalatesToSIGKILLOnlyWhenTheTimeoutPasses() throws {
        let shim = try InProcessShim()
        let pid = try shim.createAndStart()
        shim.processes.ignored[pid] = [SIGTERM]
        var answer: Result<(ProcessExit, escalated: Bool), CoreError>?
        shim.core.stop(timeoutSeconds: 10, signal: 0, all: false) { answer = $0 }
        shim.settle()
        XCTAssertEqual(shim.processes.signals[pid], [SIGTERM])
        XCTAssertNil(answer)

        shim.advance(seconds: 9.9)
        XCTAssertEqual(shim.processes.signals[pid], [SIGTERM], "no SIGKILL before the timeout")
        XCTAssertNil(answer)

        shim.advance(seconds: 0.2)
        XCTAssertEqual(shim.processes.signals[pid], [SIGTERM, SIGKILL])
        let (exit, escalated) = try XCTUnwrap(answer).get()
        XCTAssertEqual(exit.exitCode, 137)
        XCTAssertTrue(escalated)
        XCTAssertEqual(shim.core.snapshot.status, .stopped)
    }

    func testStopWithoutTimeoutKillsAtOnceAndAStoppedContainerIsSuccess() throws {
        let shim = try InProcessShim()
        let pid = try shim.createAndStart()
        let first = try XCTUnwrap(shim.result { done in shim.core.stop(timeoutSeconds: 0, signal: 0, all: false, done) }).get()
        XCTAssertEqual(shim.processes.signals[pid], [SIGKILL])
        XCTAssertTrue(first.escalated)
        let second = try XCTUnwrap(shim.result { done in shim.core.stop(timeoutSeconds: 5, signal: 0, all: false, done) }).get()
        XCTAssertEqual(second.0, first.0, "stopping a stopped container answers its exit")
        XCTAssertFalse(second.escalated)
        XCTAssertEqual(shim.processes.signals[pid], [SIGKILL], "nothing sent to a stopped container")
    }

    func testStopFailsWhenEvenSIGKILLIsNotSeenWithinTheGrace() throws {
        let shim = try InProcessShim(killGraceSeconds: 5)
        let pid = try shim.createAndStart()
        shim.processes.unkillable = [pid]
        var answer: Result<(ProcessExit, escalated: Bool), CoreError>?
        shim.core.stop(timeoutSeconds: 0, signal: 0, all: false) { answer = $0 }
        shim.advance(seconds: 4.9)
        XCTAssertNil(answer)
        shim.advance(seconds: 0.2)
        guard case .failure(let error)? = answer else { return XCTFail("stop answered \(String(describing: answer))") }
        XCTAssertEqual(error.kind, .deadlineExceeded)
        XCTAssertTrue(error.message.contains("did not exit within 5s of SIGKILL"), error.message)
        XCTAssertEqual(shim.core.snapshot.status, .running)
    }

    // --- the order of lifecycle events ------------------------------------------------

    func testAnExitWhileTheRuntimesStartIsPendingComesAfterTheStartedEvent() throws {
        let shim = try InProcessShim()
        let pid = try XCTUnwrap(shim.result { done in shim.core.create(shim.createOptions(), done) }).get()
        shim.runtime.hold = ["start"]
        var started: Result<(pid: Int32, startedAt: Int64), CoreError>?
        shim.core.start { started = $0 }
        shim.settle()
        XCTAssertEqual(shim.core.snapshot.status, .created)
        XCTAssertEqual(try XCTUnwrap(shim.result { done in shim.core.start(done) }).failure?.message,
                       "container c1 is already being started")

        shim.processes.exit(pid, .exited(3))
        shim.settle()
        XCTAssertEqual(shim.eventKinds, [.created, .started, .exited])
        XCTAssertEqual(shim.core.snapshot.status, .stopped)

        shim.runtime.release("start")
        shim.settle()
        XCTAssertNotNil(try XCTUnwrap(started).success)
        XCTAssertEqual(shim.eventKinds, [.created, .started, .exited], "one started event")
        let state = shim.core.snapshot
        XCTAssertEqual(state.exitCode, 3)
        XCTAssertLessThanOrEqual(state.startedAt, state.finishedAt)
    }

    func testAFailedStartLeavesTheContainerCreated() throws {
        let shim = try InProcessShim()
        _ = try XCTUnwrap(shim.result { done in shim.core.create(shim.createOptions(), done) }).get()
        shim.runtime.failures["start"] = CoreError(.runtimeFailed, "no")
        XCTAssertNotNil(try XCTUnwrap(shim.result { done in shim.core.start(done) }).failure)
        XCTAssertEqual(shim.core.snapshot.status, .created)
        XCTAssertEqual(shim.eventKinds, [.created])
    }

    func testAForcedDeleteAnswersAfterTheExitIsRecorded() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        var waited: ProcessExit?
        shim.core.wait { waited = try? $0.get() }
        let deleted = try XCTUnwrap(shim.result { done in shim.core.delete(force: true, done) }).get()
        XCTAssertEqual(deleted?.exitCode, 137)
        XCTAssertEqual(waited?.exitCode, 137, "Wait heard of the exit")
        XCTAssertEqual(shim.eventKinds, [.created, .started, .exited, .deleted])
        XCTAssertEqual(shim.core.snapshot.status, .deleted)
        XCTAssertFalse(shim.core.holdsContainer, "the shim holds no container any more")
    }

    func testADeleteWithoutForceOfARunningContainerIsRefused() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        let refused = try XCTUnwrap(shim.result { done in shim.core.delete(force: false, done) })
        XCTAssertEqual(refused.failure?.message, "container c1 is running: stop it first or delete with force")
        XCTAssertEqual(shim.runtime.calls.filter { $0 == "delete" }, [])
    }

    func testACreateOfATakenIDNeverDeletesIt() throws {
        let shim = try InProcessShim()
        shim.runtime.failures["create"] = CoreError(.alreadyExists, "container with id exists: c1")
        let failed = try XCTUnwrap(shim.result { done in shim.core.create(shim.createOptions(), done) })
        XCTAssertEqual(failed.failure?.kind, .alreadyExists)
        XCTAssertFalse(shim.runtime.calls.contains("delete"))
        XCTAssertFalse(shim.core.holdsContainer)
        // A runtime killed at its deadline left its own container: that one
        // is removed.
        shim.runtime.failures["create"] = CoreError(.deadlineExceeded, "runc create did not finish")
        _ = try XCTUnwrap(shim.result { done in shim.core.create(shim.createOptions(), done) })
        XCTAssertTrue(shim.runtime.calls.contains("delete"))
    }

    // --- exec sessions --------------------------------------------------------------------

    func testAnExecIsRegisteredThenStartedThenExitsThenIsRemoved() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        var options = ExecOptions(execID: "e1", args: ["true"])
        options.processSpecPath = nil
        XCTAssertNil(try shim.core.registerExec(options).get())
        XCTAssertEqual(shim.core.snapshot.execIDs, ["e1"])
        XCTAssertEqual(try shim.core.execState("e1").get().pid, 0, "registered, not started")
        XCTAssertFalse(shim.runtime.calls.contains("exec"))
        XCTAssertEqual(shim.core.registerExec(options).failure?.kind, .alreadyExists)

        let pid = try XCTUnwrap(shim.result { done in shim.core.startExec("e1", done) }).get()
        XCTAssertEqual(try shim.core.execState("e1").get().running, true)
        XCTAssertEqual(shim.core.registerExec(ExecOptions(execID: "c1", args: ["x"])).failure?.kind, .invalidArgument)
        XCTAssertThrowsError(try shim.core.removeExec("e1"), "a running session is not removed")

        var exit: ProcessExit?
        shim.core.wait(execID: "e1") { exit = try? $0.get() }
        shim.processes.exit(pid, .exited(7))
        shim.settle()
        XCTAssertEqual(exit?.exitCode, 7)
        XCTAssertEqual(try shim.core.execState("e1").get().exitCode, 7)
        XCTAssertEqual(shim.core.snapshot.execIDs, [])
        XCTAssertEqual(shim.events.filter { $0.execID == "e1" }.map(\.kind), [.execStarted, .execExited])
        try shim.core.removeExec("e1")
        XCTAssertEqual(shim.core.execState("e1").failure?.kind, .notFound)
    }

    func testExecStopSignalsTheSessionAndEscalates() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        let pid = try XCTUnwrap(shim.result { done in
            _ = shim.core.exec(ExecOptions(execID: "e1", args: ["sleep"]), started: done)
        }).get()
        shim.processes.ignored[pid] = [SIGTERM]
        var answer: Result<(ProcessExit, escalated: Bool), CoreError>?
        shim.core.stop(execID: "e1", timeoutSeconds: 2, signal: 0, all: false) { answer = $0 }
        shim.settle()
        XCTAssertEqual(shim.processes.signals[pid], [SIGTERM])
        shim.advance(seconds: 2.1)
        XCTAssertEqual(shim.processes.signals[pid], [SIGTERM, SIGKILL])
        XCTAssertEqual(try XCTUnwrap(answer).get().0.exitCode, 137)
        XCTAssertEqual(shim.core.snapshot.status, .running, "the container is untouched")
    }

    func testAnExecTimeoutKillsTheProcessAndMarksItsExit() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        var options = ExecOptions(execID: "e1", args: ["sleep"])
        options.timeoutSeconds = 3
        let pid = try XCTUnwrap(shim.result { done in _ = shim.core.exec(options, started: done) }).get()
        var exit: ProcessExit?
        shim.core.wait(execID: "e1") { exit = try? $0.get() }
        shim.advance(seconds: 3.1)
        XCTAssertEqual(shim.processes.signals[pid], [SIGKILL])
        XCTAssertEqual(exit?.timedOut, true)
        XCTAssertEqual(exit?.exitCode, 137)
    }

    // --- checkpoint ---------------------------------------------------------------------

    func testAnExitDuringAStoppingCheckpointIsTheCheckpoints() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        shim.runtime.hold = ["checkpoint"]
        var outcome: Result<CheckpointOutcome, CoreError>?
        shim.core.checkpoint(CheckpointOptions(imagePath: shim.dir + "/image")) { outcome = $0 }
        shim.settle()
        XCTAssertEqual(shim.core.snapshot.status, .running)
        XCTAssertFalse(shim.eventKinds.contains(.exited), "the exit is held while the checkpoint runs")
        XCTAssertEqual(try XCTUnwrap(shim.result { done in shim.core.delete(force: true, done) }).failure?.kind,
                       .failedPrecondition)

        shim.runtime.release("checkpoint")
        shim.settle()
        let result = try XCTUnwrap(outcome).get()
        XCTAssertEqual(result.status, .stopped)
        XCTAssertEqual(result.exit?.checkpointed, true)
        XCTAssertEqual(shim.core.snapshot.checkpointed, true)
        XCTAssertEqual(Array(shim.eventKinds.suffix(2)), [.checkpointed, .exited])
    }

    func testAFailedCheckpointMakesAHeldExitAnOrdinaryOne() throws {
        let shim = try InProcessShim()
        let pid = try shim.createAndStart()
        shim.runtime.hold = ["checkpoint"]
        shim.runtime.failures["checkpoint"] = CoreError(.runtimeFailed, "criu failed")
        var outcome: Result<CheckpointOutcome, CoreError>?
        shim.core.checkpoint(CheckpointOptions(imagePath: shim.dir + "/image")) { outcome = $0 }
        shim.processes.exit(pid, .exited(1))
        shim.settle()
        XCTAssertNil(shim.core.snapshot.exitCode)
        shim.runtime.release("checkpoint")
        shim.settle()
        XCTAssertNotNil(try XCTUnwrap(outcome).failure)
        XCTAssertEqual(shim.core.snapshot.exitCode, 1)
        XCTAssertEqual(shim.core.snapshot.checkpointed, false)
    }

    func testAPausedContainerIsCheckpointedAndStaysPaused() throws {
        // containerd pauses a task, checkpoints it, then resumes it.
        let shim = try InProcessShim()
        try shim.createAndStart()
        _ = try XCTUnwrap(shim.result { done in shim.core.pause(done) }).get()
        shim.runtime.hold = ["checkpoint"]
        var options = CheckpointOptions(imagePath: shim.dir + "/image")
        options.leaveRunning = true
        var outcome: Result<CheckpointOutcome, CoreError>?
        shim.core.checkpoint(options) { outcome = $0 }
        shim.settle()
        XCTAssertEqual(shim.core.snapshot.status, .paused, "a checkpoint in flight shows the phase it started from")
        shim.runtime.release("checkpoint")
        shim.settle()
        XCTAssertEqual(try XCTUnwrap(outcome).get().status, .paused)
        XCTAssertEqual(shim.core.snapshot.status, .paused)
        _ = try XCTUnwrap(shim.result { done in shim.core.resume(done) }).get()
        XCTAssertEqual(shim.core.snapshot.status, .running)
    }

    func testAFailedCheckpointOfAPausedContainerLeavesItPaused() throws {
        let shim = try InProcessShim()
        try shim.createAndStart()
        _ = try XCTUnwrap(shim.result { done in shim.core.pause(done) }).get()
        shim.runtime.failures["checkpoint"] = CoreError(.runtimeFailed, "criu failed")
        let outcome = try XCTUnwrap(shim.result { done in shim.core.checkpoint(CheckpointOptions(imagePath: shim.dir + "/image"), done) })
        XCTAssertNotNil(outcome.failure)
        XCTAssertEqual(shim.core.snapshot.status, .paused)
    }

    // --- the container's processes --------------------------------------------------------

    func testKillAllWhenInitExitsKillsWhatTheInitLeft() throws {
        for killAll in [false, true] {
            let shim = try InProcessShim()
            var options = shim.createOptions()
            options.killAllWhenInitExits = killAll
            let pid = try XCTUnwrap(shim.result { done in shim.core.create(options, done) }).get()
            _ = try XCTUnwrap(shim.result { done in shim.core.start(done) }).get()
            XCTAssertFalse(shim.runtime.calls.contains("kill \(SIGKILL)"))
            shim.processes.exit(pid, .exited(0))
            shim.settle()
            XCTAssertEqual(shim.core.snapshot.status, .stopped)
            XCTAssertEqual(shim.runtime.calls.contains("kill \(SIGKILL)"), killAll,
                           "kill --all SIGKILL after the init's exit: \(killAll ? "expected" : "not asked for")")
        }
    }

    func testProcessIDsComeFromTheRuntimeAndExecSessionsAreNamedByPid() throws {
        let shim = try InProcessShim()
        let refused = try XCTUnwrap(shim.result { done in shim.core.processIDs(done) })
        XCTAssertEqual(refused.failure?.kind, .failedPrecondition, "no container yet")
        let pid = try shim.createAndStart()
        XCTAssertEqual(try XCTUnwrap(shim.result { done in shim.core.processIDs(done) }).get(), [pid])
        XCTAssertTrue(shim.runtime.calls.contains("ps"))

        var options = ExecOptions(execID: "e1", args: ["true"])
        options.attachSocket = false
        guard case .success = shim.core.registerExec(options) else { return XCTFail("exec not registered") }
        XCTAssertEqual(shim.core.execProcesses.map(\.execID), ["e1"])
        XCTAssertEqual(shim.core.execProcesses.map(\.pid), [0], "not started: no pid yet")
        let execPid = try XCTUnwrap(shim.result { done in shim.core.startExec("e1", done) }).get()
        XCTAssertEqual(shim.core.execProcesses.map(\.pid), [execPid])
        XCTAssertFalse(FileSystem.exists(shim.dir + "/state/exec/e1/attach"), "no attach socket was asked for")
    }

    // --- attach fan-out ------------------------------------------------------------------

    func testEveryAttachClientSeesTheOutputAndTheEnd() throws {
        let shim = try InProcessShim()
        let pid = try shim.createAndStart()
        let stdout = try XCTUnwrap(shim.runtime.containerStdout["c1"])
        let clients = [RecordingClient(), RecordingClient()]
        var request = AttachRequest(execID: nil)
        request.stdout = true
        request.stderr = true
        let sessions = try clients.map { try shim.core.attach(request, client: $0).get() }
        _ = "hello\n".withCString { write(stdout, $0, 6) }
        shim.settle()
        for client in clients { XCTAssertEqual(String(decoding: client.stdout, as: UTF8.self), "hello\n") }
        sessions[1].end()
        _ = "again\n".withCString { write(stdout, $0, 6) }
        shim.settle()
        XCTAssertEqual(String(decoding: clients[0].stdout, as: UTF8.self), "hello\nagain\n")
        XCTAssertEqual(String(decoding: clients[1].stdout, as: UTF8.self), "hello\n", "a detached client gets nothing more")
        shim.processes.exit(pid, .exited(0))
        shim.settle()
        XCTAssertEqual(clients[0].ended, 0)
        XCTAssertNil(clients[1].ended)
        let log = try FileSystem.readString(shim.dir + "/state/ctr.log")
        XCTAssertTrue(log.contains(" stdout F hello\n") && log.contains(" stdout F again\n"), log)
    }

    /// Issue 14, item 9: the detach keys detach a client from a container
    /// created without a stdin too (`ocictl attach` to `run -d`).
    func testTheDetachKeysDetachFromAContainerWithoutStdin() throws {
        let shim = try InProcessShim()
        let pid = try shim.createAndStart()
        let client = RecordingClient()
        var request = AttachRequest(execID: nil)
        request.stdin = true
        request.stdout = true
        let session = try shim.core.attach(request, client: client).get()
        XCTAssertEqual(session.input(Array("typed\n".utf8)), .ignored, "no stdin to forward to")
        XCTAssertEqual(session.input([0x10]), .ignored)
        XCTAssertEqual(session.input([0x11]), .detached)
        XCTAssertTrue(session.isEnded)
        shim.processes.exit(pid, .exited(0))
        shim.settle()
        XCTAssertNil(client.ended, "a detached client does not hear the exit")
    }
}

/// An attach client that keeps what it is given.
final class RecordingClient: AttachClient {
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var ended: Int32?

    func attachOutput(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        if stream == .stdout { stdout += chunk } else { stderr += chunk }
    }

    func attachDropped(_ bytes: UInt64) {}
    func attachEnded(exitCode: Int32) { ended = exitCode }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}
