import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem
import XCTest

/// Checkpoint and restore through the shim. CRIU fails `criu check` on this
/// machine's kernel, so `checkpoint` and `restore` themselves are faked
/// (Tests/Fixtures/fake-runtime); the containers being checkpointed are real
/// runc containers (the fake hands create, start, kill... to runc). The real
/// CRIU round trip is in CheckpointRealRuncTests.
final class CheckpointTests: XCTestCase {
    private func fakeRuntime() throws -> FakeRuntime {
        try FakeRuntime.install(in: try TestSupport.makeTemporaryDirectory(prefix: "fake-runtime", for: self))
    }

    /// A started real container printing "before" and then sleeping.
    private func runningContainer(_ fake: FakeRuntime) throws -> (ShimHarness, BusyboxBundle, Int32) {
        let shim = try ShimHarness(self, name: "ckpt", serveArgs: fake.serveArgs)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "echo before; exec sleep 1000"])
        let created = try shim.create(bundle)
        _ = try shim.start()
        XCTAssertTrue(try shim.eventually { try shim.logText().contains("before") })
        return (shim, bundle, created.pid)
    }

    private func events(_ shim: ShimHarness) throws -> [Ocishim_V1_Event] {
        let stream = try shim.client.openStream("Events", Ocishim_V1_EventsRequest.with { $0.noFollow = true })
        var events: [Ocishim_V1_Event] = []
        while let event = try stream.next(Ocishim_V1_Event.self, timeoutSeconds: 10) { events.append(event) }
        return events
    }

    private func checkpoint(_ shim: ShimHarness, _ edit: (inout Ocishim_V1_CheckpointRequest) -> Void) throws -> Ocishim_V1_CheckpointResponse {
        var request = Ocishim_V1_CheckpointRequest()
        edit(&request)
        return try shim.call("Checkpoint", request)
    }

    // --- checkpoint ----------------------------------------------------------------

    func testCheckpointStopsTheContainerAndItsExitIsMarkedCheckpointed() throws {
        let fake = try fakeRuntime()
        let (shim, bundle, pid) = try runningContainer(fake)
        let image = shim.dir + "/checkpoint"

        let response = try checkpoint(shim) { $0.imagePath = image }
        XCTAssertEqual(response.status, .stopped)
        XCTAssertEqual(response.exitCode, 137, "runc's SIGKILL of the dumped init, as the monitor saw it")
        XCTAssertGreaterThan(response.finishedAt, 0)

        // podman's arguments; the work path defaults to the bundle.
        XCTAssertEqual(fake.lastInvocation(of: "checkpoint"),
                       ["checkpoint", "--image-path", image, "--work-path", bundle.path, shim.id])
        let globals = fake.globalOptions(of: "checkpoint") ?? []
        XCTAssertTrue(globals.contains("--log") && globals.contains("json"), "JSON error log asked for: \(globals)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: bundle.path + "/dump.log"), "CRIU's work files go to the bundle")
        XCTAssertTrue(FileManager.default.fileExists(atPath: image + "/fake-checkpoint"))

        let state = try shim.state()
        XCTAssertEqual(state.status, .stopped)
        XCTAssertEqual(state.exitCode, 137)
        XCTAssertTrue(state.checkpointed)
        XCTAssertEqual(state.pid, pid)
        XCTAssertEqual(state.finishedAt, response.finishedAt)
        // The runtime forgot the container; asking it changes nothing.
        XCTAssertNotEqual(try TestSupport.run(FakeRuntime.realRunc, ["state", shim.id]).status, 0)
        let refreshed = try shim.state(refresh: true)
        XCTAssertEqual(refreshed.status, .stopped)
        XCTAssertEqual(refreshed.exitCode, 137)
        XCTAssertFalse(ShimHarness.alive(pid))

        let wait = try shim.wait()
        XCTAssertEqual(wait.exitCode, 137)
        XCTAssertTrue(wait.checkpointed)
        let exitFile: Ocishim_V1_PathResponse = try shim.call("ExitFilePath", Ocishim_V1_ExitFilePathRequest())
        XCTAssertEqual(try String(contentsOfFile: exitFile.path, encoding: .utf8), "137")
        let stateJSON = try String(contentsOfFile: shim.stateDir + "/state.json", encoding: .utf8)
        XCTAssertTrue(stateJSON.contains("\"checkpointed\""), stateJSON)

        let events = try events(shim)
        XCTAssertEqual(events.map(\.type), [.created, .started, .checkpointed, .exited])
        XCTAssertEqual(events[2].message, "checkpointed, stopped")
        XCTAssertEqual(events[2].pid, pid)
        XCTAssertEqual(events[3].exitCode, 137)
        XCTAssertEqual(events[3].message, "checkpointed")
        XCTAssertEqual(shim.zombies(), [])

        // A checkpointed container is deleted like any stopped one.
        let deleted: Ocishim_V1_DeleteResponse = try shim.call("Delete", Ocishim_V1_DeleteRequest())
        XCTAssertEqual(deleted.exitCode, 137)
    }

    func testCheckpointLeavingItRunningPassesEveryOption() throws {
        let fake = try fakeRuntime()
        let (shim, _, pid) = try runningContainer(fake)
        let image = shim.dir + "/image"
        let work = shim.dir + "/work"

        let response = try checkpoint(shim) {
            $0.imagePath = image
            $0.workPath = work
            $0.leaveRunning = true
            $0.tcpEstablished = true
            $0.fileLocks = true
            $0.runtimeArgs = ["--ext-unix-sk"]
        }
        XCTAssertEqual(response.status, .running)
        XCTAssertEqual(response.exitCode, 0)
        XCTAssertEqual(response.finishedAt, 0)
        XCTAssertEqual(fake.lastInvocation(of: "checkpoint"),
                       ["checkpoint", "--image-path", image, "--work-path", work, "--leave-running",
                        "--tcp-established", "--file-locks", "--ext-unix-sk", shim.id])
        XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/dump.log"))

        let state = try shim.state(refresh: true)
        XCTAssertEqual(state.status, .running)
        XCTAssertFalse(state.checkpointed)
        XCTAssertTrue(ShimHarness.alive(pid))
        let events = try events(shim)
        XCTAssertEqual(events.map(\.type), [.created, .started, .checkpointed])
        XCTAssertEqual(events.last?.message, "checkpointed, left running")

        // It is still an ordinary container: its exit is no checkpoint's.
        let _: Ocishim_V1_KillResponse = try shim.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = 9 })
        let wait = try shim.wait()
        XCTAssertEqual(wait.exitCode, 137)
        XCTAssertFalse(wait.checkpointed)
        XCTAssertFalse(try shim.state().checkpointed)
    }

    func testAFailedCheckpointSurfacesTheRuntimesJSONErrorAndTheContainerRunsOn() throws {
        let fake = try fakeRuntime()
        let (shim, _, pid) = try runningContainer(fake)
        try fake.fail("checkpoint", message: "criu failed: type DUMP errno 0\nlog file: /run/dump.log")

        let error = try shim.failure("Checkpoint", Ocishim_V1_CheckpointRequest.with { $0.imagePath = shim.dir + "/image" })
        XCTAssertEqual(error?.code, .unknown)
        XCTAssertEqual(error?.message, "criu failed: type DUMP errno 0 log file: /run/dump.log: OCI runtime error")

        let state = try shim.state(refresh: true)
        XCTAssertEqual(state.status, .running)
        XCTAssertFalse(state.checkpointed)
        XCTAssertTrue(ShimHarness.alive(pid))
        XCTAssertFalse(try events(shim).contains { $0.type == .checkpointed })
        let stopped: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = 1 })
        XCTAssertEqual(stopped.exitCode, 137)
        XCTAssertFalse(try shim.wait().checkpointed)
    }

    func testAContainerThatDiesInAFailedCheckpointHasAnOrdinaryExit() throws {
        let fake = try fakeRuntime()
        let (shim, _, pid) = try runningContainer(fake)
        try fake.write("fail-after-stop", "criu failed: type DUMP errno 0")

        let error = try shim.failure("Checkpoint", Ocishim_V1_CheckpointRequest.with { $0.imagePath = shim.dir + "/image" })
        XCTAssertEqual(error?.code, .unknown)
        XCTAssertTrue(error?.message.contains("criu failed: type DUMP errno 0") ?? false, error?.message ?? "")

        let wait = try shim.wait()
        XCTAssertEqual(wait.exitCode, 137)
        XCTAssertFalse(wait.checkpointed, "the checkpoint failed: the exit is not its")
        XCTAssertFalse(ShimHarness.alive(pid))
        let events = try events(shim)
        XCTAssertEqual(events.map(\.type), [.created, .started, .exited])
        XCTAssertEqual(events.last?.message, "")
    }

    func testAPausedContainerIsCheckpointedAndStaysPaused() throws {
        // containerd pauses a task around its checkpoint.
        let fake = try fakeRuntime()
        let shim = try ShimHarness(self, name: "ckpt", serveArgs: fake.serveArgs)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        _ = try shim.start()
        let _: Ocishim_V1_PauseResponse = try shim.call("Pause", Ocishim_V1_PauseRequest())
        let answer: Ocishim_V1_CheckpointResponse = try shim.call("Checkpoint", Ocishim_V1_CheckpointRequest.with {
            $0.imagePath = shim.dir + "/image"
            $0.leaveRunning = true
        })
        XCTAssertEqual(answer.status, .paused)
        XCTAssertEqual(try shim.state().status, .paused)
        XCTAssertNotNil(fake.lastInvocation(of: "checkpoint"))
        let _: Ocishim_V1_ResumeResponse = try shim.call("Resume", Ocishim_V1_ResumeRequest())
        XCTAssertEqual(try shim.state().status, .running)
    }

    func testCheckpointIsRefusedOutsideRunningAndForBadPaths() throws {
        let fake = try fakeRuntime()
        let shim = try ShimHarness(self, name: "ckpt", serveArgs: fake.serveArgs)
        let request = Ocishim_V1_CheckpointRequest.with { $0.imagePath = shim.dir + "/image" }
        XCTAssertEqual(try shim.failure("Checkpoint", request)?.code, .failedPrecondition, "before Create")

        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        let created = try shim.failure("Checkpoint", request)
        XCTAssertEqual(created?.code, .failedPrecondition)
        XCTAssertTrue(created?.message.contains("checkpoint needs running or paused") ?? false, created?.message ?? "")
        _ = try shim.start()

        XCTAssertEqual(try shim.failure("Checkpoint", Ocishim_V1_CheckpointRequest())?.code, .invalidArgument, "no image path")
        let relative = try shim.failure("Checkpoint", Ocishim_V1_CheckpointRequest.with { $0.imagePath = "images/c1" })
        XCTAssertEqual(relative?.code, .invalidArgument)
        XCTAssertTrue(relative?.message.contains("must be absolute") ?? false, relative?.message ?? "")
        let relativeWork = try shim.failure("Checkpoint", Ocishim_V1_CheckpointRequest.with {
            $0.imagePath = shim.dir + "/image"
            $0.workPath = "work"
        })
        XCTAssertEqual(relativeWork?.code, .invalidArgument)

        let _: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = 0 })
        XCTAssertEqual(try shim.failure("Checkpoint", request)?.code, .failedPrecondition, "stopped")
        XCTAssertNil(fake.lastInvocation(of: "checkpoint"), "no refused checkpoint reached the runtime")
    }

    func testWhileACheckpointRunsASecondOneAndDeleteAreRefused() throws {
        let fake = try fakeRuntime()
        let (shim, _, pid) = try runningContainer(fake)
        try fake.write("delay-checkpoint", "1")
        let request = Ocishim_V1_CheckpointRequest.with { $0.imagePath = shim.dir + "/image" }
        let first = try shim.client.sendRequest("Checkpoint", payload: try request.serializedBytes(), flags: [])

        let second = try shim.failure("Checkpoint", request)
        XCTAssertEqual(second?.code, .failedPrecondition)
        XCTAssertEqual(second?.message, "container \(shim.id) is already being checkpointed")
        let delete = try shim.failure("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
        XCTAssertEqual(delete?.code, .failedPrecondition)
        XCTAssertTrue(delete?.message.contains("being checkpointed") ?? false, delete?.message ?? "")

        let answer = try shim.client.awaitResponse(streamID: first, what: "Checkpoint", timeoutSeconds: 30)
        XCTAssertEqual(answer.status.code, 0, answer.status.message)
        let response = try Ocishim_V1_CheckpointResponse(serializedBytes: answer.payload)
        XCTAssertEqual(response.status, .stopped)
        XCTAssertEqual(response.exitCode, 137)
        XCTAssertTrue(try shim.state().checkpointed)
        XCTAssertFalse(ShimHarness.alive(pid))
        XCTAssertEqual(fake.invocations().filter { $0.contains("checkpoint") }.count, 1, "one checkpoint reached the runtime")
        let _: Ocishim_V1_DeleteResponse = try shim.call("Delete", Ocishim_V1_DeleteRequest())
    }

    // --- restore -------------------------------------------------------------------

    func testRestoreRunsUnderTheMonitorWithTheShimsStdioLogAndExit() throws {
        let fake = try fakeRuntime()
        let (first, bundle, _) = try runningContainer(fake)
        let image = first.dir + "/checkpoint"
        XCTAssertEqual(try checkpoint(first) { $0.imagePath = image }.status, .stopped)
        let _: Ocishim_V1_DeleteResponse = try first.call("Delete", Ocishim_V1_DeleteRequest())

        // A new shim for the same container, as podman starts a new conmon.
        let shim = try ShimHarness(self, id: first.id, serveArgs: fake.serveArgs)
        addTeardownBlock { [fake] in
            try? fake.release()
            if let pid = fake.processPid(of: shim.id) { kill(pid, SIGKILL) }
        }
        try fake.write("restore-exit", "7")
        let restored = try shim.create(bundle) { $0.restore.imagePath = image }
        XCTAssertEqual(restored.status, .running)
        XCTAssertEqual(restored.pid, fake.processPid(of: shim.id), "the restored process's pid, from --pid-file")
        XCTAssertTrue(ShimHarness.alive(restored.pid))
        XCTAssertEqual(fake.lastInvocation(of: "restore"),
                       ["restore", "--detach", "--bundle", bundle.path, "--pid-file", shim.stateDir + "/pidfile",
                        "--image-path", image, "--work-path", bundle.path, shim.id])
        XCTAssertTrue(FileManager.default.fileExists(atPath: bundle.path + "/restore.log"))

        // Its stdout and stderr are the shim's pipes, into the log.
        XCTAssertTrue(try shim.eventually { try shim.logText().contains("restored err 3") && shim.logText().contains("restored out 3") })
        let raw = try String(contentsOfFile: shim.logPath, encoding: .utf8)
        for n in 1...3 {
            XCTAssertTrue(raw.contains(" stdout F restored out \(n)\n"), raw)
            XCTAssertTrue(raw.contains(" stderr F restored err \(n)\n"), raw)
        }
        let state = try shim.state()
        XCTAssertEqual(state.status, .running)
        XCTAssertEqual(state.pid, restored.pid)
        XCTAssertGreaterThan(state.startedAt, 0)
        XCTAssertFalse(state.checkpointed)

        try fake.release()
        let wait = try shim.wait()
        XCTAssertEqual(wait.exitCode, 7)
        XCTAssertFalse(wait.checkpointed)
        let stopped = try shim.state()
        XCTAssertEqual(stopped.status, .stopped)
        XCTAssertEqual(stopped.exitCode, 7)
        let text = try shim.logText()
        XCTAssertTrue(text.hasSuffix("restored out bye\n"), text)
        let exitFile: Ocishim_V1_PathResponse = try shim.call("ExitFilePath", Ocishim_V1_ExitFilePathRequest())
        XCTAssertEqual(try String(contentsOfFile: exitFile.path, encoding: .utf8), "7")
        let events = try events(shim)
        XCTAssertEqual(events.map(\.type), [.restored, .exited], "a restored container is not created nor started")
        XCTAssertEqual(events.first?.pid, restored.pid)
        XCTAssertEqual(events.last?.exitCode, 7)
        XCTAssertEqual(shim.zombies(), [])
        let _: Ocishim_V1_DeleteResponse = try shim.call("Delete", Ocishim_V1_DeleteRequest())
    }

    func testRestoreOptionsReachTheRuntime() throws {
        let fake = try fakeRuntime()
        let shim = try ShimHarness(self, name: "rst", serveArgs: fake.serveArgs)
        addTeardownBlock { [fake] in
            try? fake.release()
            if let pid = fake.processPid(of: shim.id) { kill(pid, SIGKILL) }
        }
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        let image = shim.dir + "/image"
        let work = shim.dir + "/work"
        try FileManager.default.createDirectory(atPath: image, withIntermediateDirectories: true)
        try "x".write(toFile: image + "/fake-checkpoint", atomically: true, encoding: .utf8)
        let restored = try shim.create(bundle) {
            $0.restore = .with {
                $0.imagePath = image
                $0.workPath = work
                $0.tcpEstablished = true
                $0.fileLocks = true
                $0.runtimeArgs = ["--ext-unix-sk"]
            }
            $0.noPivot = true
            $0.pidFile = shim.dir + "/ctr.pid"
            $0.runtime.createArgs = ["--no-subreaper"]
        }
        XCTAssertEqual(restored.status, .running)
        XCTAssertEqual(fake.lastInvocation(of: "restore"),
                       ["restore", "--detach", "--bundle", bundle.path, "--pid-file", shim.dir + "/ctr.pid",
                        "--image-path", image, "--work-path", work, "--tcp-established", "--file-locks",
                        "--no-pivot", "--ext-unix-sk", "--no-subreaper", shim.id])
        XCTAssertEqual(try String(contentsOfFile: shim.dir + "/ctr.pid", encoding: .utf8), "\(restored.pid)")
        // Delete --force ends the restored process through the runtime.
        let deleted: Ocishim_V1_DeleteResponse = try shim.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
        XCTAssertEqual(deleted.exitCode, 137)
        XCTAssertFalse(ShimHarness.alive(restored.pid))
    }

    func testAFailedRestoreSurfacesTheRuntimesErrorAndLeavesNothing() throws {
        let fake = try fakeRuntime()
        let shim = try ShimHarness(self, name: "rst", serveArgs: fake.serveArgs)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        let image = shim.dir + "/no-image"

        let error = try shim.failure("Create", shim.createRequest(bundle) { $0.restore.imagePath = image })
        XCTAssertEqual(error?.code, .unknown)
        XCTAssertEqual(error?.message, "fake-runtime: criu failed: type RESTORE: no checkpoint image in \(image): OCI runtime error")
        XCTAssertEqual(try shim.state().status, .none)
        XCTAssertNil(fake.processPid(of: shim.id))
        // The runtime failed and removed what it made; the shim deletes
        // nothing, since the id may be another container's.
        XCTAssertNil(fake.lastInvocation(of: "delete"), "a failed restore must not delete the id from the runtime")
        XCTAssertEqual(shim.zombies(), [])

        // Paths the shim cannot resolve for the engine never reach the runtime.
        let relative = try shim.failure("Create", shim.createRequest(bundle) { $0.restore.imagePath = "checkpoint" })
        XCTAssertEqual(relative?.code, .invalidArgument)
        XCTAssertTrue(relative?.message.contains("restore image path must be absolute") ?? false, relative?.message ?? "")
        let empty = try shim.failure("Create", shim.createRequest(bundle) { $0.restore.workPath = "/tmp" })
        XCTAssertEqual(empty?.code, .invalidArgument, "restore without an image path")
        XCTAssertEqual(fake.invocations().filter { $0.contains("restore") }.count, 1)
    }

    func testRestoreOntoATerminalHandsTheRuntimeTheConsoleSocket() throws {
        let fake = try fakeRuntime()
        let shim = try ShimHarness(self, name: "rst", serveArgs: fake.serveArgs)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh"], terminal: true)
        let image = shim.dir + "/image"
        try FileManager.default.createDirectory(atPath: image, withIntermediateDirectories: true)
        try "x".write(toFile: image + "/fake-checkpoint", atomically: true, encoding: .utf8)

        // The fake cannot make a pty: it checks what it was given and fails.
        let error = try shim.failure("Create", shim.createRequest(bundle) {
            $0.terminal = true
            $0.restore.imagePath = image
        })
        XCTAssertTrue(error?.message.contains("cannot restore onto a terminal") ?? false, error?.message ?? "")
        let args = try XCTUnwrap(fake.lastInvocation(of: "restore"))
        let socket = try XCTUnwrap(args.firstIndex(of: "--console-socket").map { args[$0 + 1] })
        XCTAssertTrue(socket.hasSuffix("/console.sock"), socket)
        XCTAssertFalse(FileManager.default.fileExists(atPath: socket), "the console socket is gone with the failed restore")
        XCTAssertEqual(try shim.state().status, .none)
    }

    // --- SupportsCheckpoint ----------------------------------------------------------

    func testSupportsCheckpointAsksRuncAndCRIU() throws {
        let shim = try ShimHarness(self)
        let support: Ocishim_V1_SupportsCheckpointResponse = try shim.call("SupportsCheckpoint", Ocishim_V1_SupportsCheckpointRequest())
        XCTAssertTrue(support.runtimeSupports, "runc checkpoint --help succeeds")
        let criu = CRIU.check()
        XCTAssertEqual(support.criuWorks, criu.works)
        if !FileManager.default.isExecutableFile(atPath: CRIU.path) {
            XCTAssertEqual(support.criuReason, "criu not found in $PATH")
        } else if criu.works {
            XCTAssertEqual(support.criuReason, "")
        } else {
            XCTAssertFalse(support.criuReason.isEmpty)
            XCTAssertEqual(support.criuReason, criu.output, "the reason is what `criu check` said")
        }
    }

    func testSupportsCheckpointIsFalseForARuntimeWithoutCheckpoint() throws {
        let fake = try fakeRuntime()
        try fake.fail("checkpoint", message: "No help topic for 'checkpoint'")
        let shim = try ShimHarness(self, serveArgs: fake.serveArgs)
        let support: Ocishim_V1_SupportsCheckpointResponse = try shim.call("SupportsCheckpoint", Ocishim_V1_SupportsCheckpointRequest())
        XCTAssertFalse(support.runtimeSupports, "fake-runtime checkpoint --help failed")
        let caps: Ocishim_V1_CapabilitiesResponse = try shim.call("Capabilities", Ocishim_V1_CapabilitiesRequest())
        XCTAssertFalse(caps.checkpoint)
    }

    func testSupportsCheckpointSaysWhenCRIUIsMissing() throws {
        let dir = try TestSupport.makeTemporaryDirectory(prefix: "nocriu", for: self)
        let env = ProcessInfo.processInfo.environment.filter { $0.key != "PATH" }.map { "\($0.key)=\($0.value)" } + ["PATH=\(dir)"]
        let client = try ShimClient.spawn(shim: try TestSupport.ocishim(),
                                          arguments: ["--id", "nocriu-\(getpid())", "--state-dir", dir + "/state", "--runtime", FakeRuntime.realRunc],
                                          environment: env)
        defer { client.close() }
        let support: Ocishim_V1_SupportsCheckpointResponse = try client.call("SupportsCheckpoint", Ocishim_V1_SupportsCheckpointRequest())
        XCTAssertTrue(support.runtimeSupports)
        XCTAssertFalse(support.criuWorks)
        XCTAssertEqual(support.criuReason, "criu not found in $PATH")
    }
}

/// `criu check` as the tests see it.
enum CRIU {
    /// The criu runc runs: the first in PATH. That is /usr/local/sbin/criu
    /// where Scripts/install-criu built one because Debian's fails here,
    /// else Debian's /usr/sbin/criu.
    /// The shim's own lookup (RuntimeProbe), so both see the same criu.
    static var path: String { FileSystem.lookPath("criu") ?? "/usr/sbin/criu" }

    static func check() -> (works: Bool, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["check"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (false, "criu cannot run: \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var output = String(decoding: data, as: UTF8.self)
        while output.hasSuffix("\n") { output.removeLast() }
        return (process.terminationStatus == 0, output)
    }
}
