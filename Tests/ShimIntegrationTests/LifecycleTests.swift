import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// The container lifecycle through the shim on real runc.
final class LifecycleTests: XCTestCase {
    func testSpawnReapsTheProcessItStartedAndReportsItsCPUTime() throws {
        let shim = try ShimHarness(self)
        let launcher = try XCTUnwrap(shim.client.launcherCPUSeconds, "the detaching first process was reaped by spawn")
        XCTAssertGreaterThan(launcher, 0, "starting a process takes some CPU time")
        XCTAssertLessThan(launcher, 5, "the first process only forks the shim and waits until it is up")
        XCTAssertNotEqual(shim.shimPid, 0)
        let connected = try ShimClient.connect(stateDir: shim.stateDir)
        defer { connected.close() }
        XCTAssertNil(connected.launcherCPUSeconds, "a connection started no process")
    }

    func testExitCodesZeroAndThree() throws {
        for code in [0, 3] {
            let shim = try ShimHarness(self)
            let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "echo out-\(code); echo err-\(code) >&2; exit \(code)"])
            let created = try shim.create(bundle)
            XCTAssertGreaterThan(created.pid, 0)
            XCTAssertEqual(created.status, .created)
            XCTAssertEqual(try shim.state().status, .created)
            let started = try shim.start()
            XCTAssertEqual(started.pid, created.pid)
            XCTAssertGreaterThan(started.startedAt, 0)
            let exit = try shim.wait()
            XCTAssertEqual(exit.exitCode, Int32(code))
            XCTAssertGreaterThanOrEqual(exit.finishedAt, started.startedAt)
            let state = try shim.state()
            XCTAssertEqual(state.status, .stopped)
            XCTAssertEqual(state.exitCode, Int32(code))
            XCTAssertEqual(state.finishedAt, exit.finishedAt)
            let exitFile: Ocishim_V1_PathResponse = try shim.call("ExitFilePath", Ocishim_V1_ExitFilePathRequest())
            XCTAssertEqual(try String(contentsOfFile: exitFile.path, encoding: .utf8), "\(code)")
            let log = try String(contentsOfFile: shim.logPath, encoding: .utf8)
            XCTAssertTrue(log.contains(" stdout F out-\(code)\n"), log)
            XCTAssertTrue(log.contains(" stderr F err-\(code)\n"), log)
            XCTAssertEqual(shim.zombies(), [])
        }
    }

    func testSigkillIs137AndStopEscalates() throws {
        let shim = try ShimHarness(self)
        // PID 1 ignores SIGTERM without a handler: Stop must escalate.
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        _ = try shim.start()
        let stopped: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = 1 })
        XCTAssertEqual(stopped.exitCode, 137)
        XCTAssertTrue(stopped.escalated)
        XCTAssertEqual(try shim.state().exitCode, 137)
    }

    func testSigtermHandledIs143() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "trap 'exit 143' TERM; echo ready; while :; do sleep 0.05; done"])
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertTrue(try shim.eventually { try shim.logText().contains("ready") })
        let stopped: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = 10 })
        XCTAssertEqual(stopped.exitCode, 143)
        XCTAssertFalse(stopped.escalated)
    }

    func testKillWithSignalNine() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        _ = try shim.start()
        let _: Ocishim_V1_KillResponse = try shim.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = 9; $0.all = true })
        XCTAssertEqual(try shim.wait().exitCode, 137)
    }

    func testStopWithZeroTimeoutKillsAtOnceAndAStoppedContainerIsSuccess() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        _ = try shim.start()
        let start = Date()
        let stopped: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = 0 })
        XCTAssertEqual(stopped.exitCode, 137)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        let again: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = 10 })
        XCTAssertEqual(again.exitCode, 137, "stopping a dead container is success")
    }

    func testPauseResumeAndIllegalCalls() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        XCTAssertEqual(try shim.failure("Start", Ocishim_V1_StartRequest())?.code, .failedPrecondition, "start before create")
        try shim.create(bundle)
        XCTAssertEqual(try shim.failure("Create", shim.createRequest(bundle))?.code, .alreadyExists)
        XCTAssertEqual(try shim.failure("Pause", Ocishim_V1_PauseRequest())?.code, .failedPrecondition, "pause a created container")
        _ = try shim.start()
        XCTAssertEqual(try shim.failure("Start", Ocishim_V1_StartRequest())?.code, .failedPrecondition, "start twice")
        XCTAssertEqual(try shim.failure("Resume", Ocishim_V1_ResumeRequest())?.code, .failedPrecondition, "resume a running one")
        let _: Ocishim_V1_PauseResponse = try shim.call("Pause", Ocishim_V1_PauseRequest())
        XCTAssertEqual(try shim.state().status, .paused)
        XCTAssertEqual(try shim.state(refresh: true).status, .paused)
        let deleteRunning = try shim.failure("Delete", Ocishim_V1_DeleteRequest())
        XCTAssertEqual(deleteRunning?.code, .failedPrecondition)
        XCTAssertTrue(deleteRunning?.message.contains("force") ?? false, deleteRunning?.message ?? "")
        let _: Ocishim_V1_ResumeResponse = try shim.call("Resume", Ocishim_V1_ResumeRequest())
        XCTAssertEqual(try shim.state(refresh: true).status, .running)
        let _: Ocishim_V1_KillResponse = try shim.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = 9 })
        XCTAssertEqual(try shim.wait().exitCode, 137)
        XCTAssertEqual(try shim.failure("Pause", Ocishim_V1_PauseRequest())?.code, .failedPrecondition, "pause a stopped container")
        XCTAssertEqual(try shim.failure("Kill", Ocishim_V1_KillRequest.with { $0.signal = 99 })?.code, .invalidArgument)
    }

    func testDeleteForceRemovesEverythingAndTheShimExits() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        let created = try shim.create(bundle)
        _ = try shim.start()
        let deleted: Ocishim_V1_DeleteResponse = try shim.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
        XCTAssertEqual(deleted.exitCode, 137)
        XCTAssertFalse(ShimHarness.alive(created.pid))
        XCTAssertTrue(shim.eventually(5) { !ShimHarness.alive(shim.shimPid) }, "the shim exits after Delete")
        let runcState = try TestSupport.run("/usr/sbin/runc", ["state", shim.id])
        XCTAssertNotEqual(runcState.status, 0, "runc no longer knows the container")
        XCTAssertFalse(FileManager.default.fileExists(atPath: shim.stateDir + "/state.json"))
    }

    func testTenThousandNumberedLinesAreAllLoggedInOrder() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/seq", "1", "10000"])
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 0)
        let lines = try shim.logText().split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, (1...10000).map(String.init))
    }

    func testLongOutputWithoutNewlineBecomesPartialRecords() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a"])
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 0)
        let raw = try String(contentsOfFile: shim.logPath, encoding: .utf8)
        let records = raw.split(separator: "\n")
        XCTAssertFalse(records.isEmpty)
        XCTAssertTrue(records.allSatisfy { $0.split(separator: " ")[2] == "P" }, "every record of output without newline is partial")
        XCTAssertEqual(try shim.logText(), String(repeating: "a", count: 300000))
    }

    func testContainerInitHasOnlyStdioOpen() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        let created = try shim.create(bundle)
        _ = try shim.start()
        // `runc start` returns before runc's init has exec'd the command
        // (and closed its own fds): wait for the exec.
        XCTAssertTrue(shim.eventually { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(created.pid)/exe"))?.hasSuffix("busybox") ?? false })
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(created.pid)/fd").compactMap(Int.init).sorted()
        XCTAssertEqual(fds, [0, 1, 2])
        let _: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest())
    }

    func testABrokenBundleIsAClearErrorAndLeavesNothingBehind() throws {
        let shim = try ShimHarness(self)
        // A command that does not exist in the rootfs: runc create fails.
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/no/such/program"])
        let error = try shim.failure("Create", shim.createRequest(bundle))
        XCTAssertNotNil(error)
        XCTAssertTrue(error?.message.contains("no such file or directory") ?? false, error?.message ?? "")
        XCTAssertNotEqual(try TestSupport.run("/usr/sbin/runc", ["state", shim.id]).status, 0, "no runtime state left")
        XCTAssertEqual(try shim.state().status, .none)
        XCTAssertEqual(shim.zombies(), [])

        // config.json that is not JSON.
        try "{ not json".write(toFile: bundle.configPath, atomically: true, encoding: .utf8)
        let bad = try shim.failure("Create", shim.createRequest(bundle))
        XCTAssertEqual(bad?.code, .invalidArgument)
        XCTAssertTrue(bad?.message.contains("config.json") ?? false, bad?.message ?? "")
        // A bundle that does not exist.
        let missing = try shim.failure("Create", Ocishim_V1_CreateRequest.with { $0.bundle = "/nonexistent/bundle" })
        XCTAssertEqual(missing?.code, .invalidArgument)
    }

    func testAMissingRuntimeBinaryIsAClearError() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        let error = try shim.failure("Create", shim.createRequest(bundle) { $0.runtime.path = "/nonexistent/runc" })
        XCTAssertEqual(error?.code, .invalidArgument)
        XCTAssertTrue(error?.message.contains("/nonexistent/runc") ?? false, error?.message ?? "")

        // At start-up: the shim refuses to run and says why.
        let dir = try TestSupport.makeTemporaryDirectory(prefix: "noruntime", for: self)
        XCTAssertThrowsError(try ShimClient.spawn(shim: try TestSupport.ocishim(),
                                                  arguments: ["--id", "x", "--state-dir", dir, "--runtime", "/nonexistent/runc"]))
    }

    func testEventsStreamTheLifecycle() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "sleep 0.2"])
        let stream = try shim.client.openStream("Events", Ocishim_V1_EventsRequest())
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 0)
        var kinds: [Ocishim_V1_EventType] = []
        var seqs: [UInt64] = []
        while kinds.count < 3, let event = try stream.next(Ocishim_V1_Event.self, timeoutSeconds: 10) {
            kinds.append(event.type)
            seqs.append(event.seq)
            if event.type == .exited { XCTAssertEqual(event.exitCode, 0) }
        }
        XCTAssertEqual(kinds, [.created, .started, .exited])
        XCTAssertEqual(seqs, seqs.sorted())
        // A later subscriber replays what it missed.
        let replay = try shim.client.openStream("Events", Ocishim_V1_EventsRequest.with { $0.afterSeq = seqs[0]; $0.noFollow = true })
        var replayed: [Ocishim_V1_EventType] = []
        while let event = try replay.next(Ocishim_V1_Event.self, timeoutSeconds: 10) { replayed.append(event.type) }
        XCTAssertEqual(replayed, [.started, .exited])
    }

    func testExitCommandRunsAfterTheExit() throws {
        let shim = try ShimHarness(self)
        let marker = shim.dir + "/exit-command-ran"
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        try shim.create(bundle) { $0.exitCommand = ["/bin/sh", "-c", "echo cleaned > \(marker)"] }
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 0)
        XCTAssertTrue(shim.eventually(5) { FileManager.default.fileExists(atPath: marker) })
    }

    func testOOMKillIsDetected() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"],
                                            edit: BusyboxBundle.memoryLimit(16 << 20))
        let stream = try shim.client.openStream("Events", Ocishim_V1_EventsRequest())
        try shim.create(bundle)
        _ = try shim.start()
        let exit = try shim.wait()
        XCTAssertTrue(exit.oomKilled, "exit \(exit.exitCode)")
        XCTAssertTrue(try shim.state().oomKilled)
        XCTAssertTrue(FileManager.default.fileExists(atPath: shim.stateDir + "/oom"), "the oom marker is in the state dir")
        XCTAssertFalse(FileManager.default.fileExists(atPath: bundle.path + "/oom"), "nothing is written into the bundle")
        var sawOOM = false
        while let event = try stream.next(Ocishim_V1_Event.self, timeoutSeconds: 5) {
            if event.type == .oom { sawOOM = true }
            if event.type == .exited { break }
        }
        XCTAssertTrue(sawOOM)
    }

    func testPathsAreTheSeeds() throws {
        let shim = try ShimHarness(self)
        let attach: Ocishim_V1_PathResponse = try shim.call("AttachSocketPath", Ocishim_V1_AttachSocketPathRequest())
        XCTAssertEqual(attach.path, "\(shim.stateDir)/sockets/\(shim.id)/attach")
        let exec: Ocishim_V1_PathResponse = try shim.call("ExecAttachSocketPath", Ocishim_V1_ExecAttachSocketPathRequest.with { $0.execID = "sess1" })
        XCTAssertEqual(exec.path, "\(shim.stateDir)/sockets/sess1/attach")
        XCTAssertEqual(try shim.failure("ExecAttachSocketPath", Ocishim_V1_ExecAttachSocketPathRequest())?.code, .invalidArgument)
        let exit: Ocishim_V1_PathResponse = try shim.call("ExitFilePath", Ocishim_V1_ExitFilePathRequest())
        XCTAssertEqual(exit.path, "\(shim.stateDir)/exits/\(shim.id)")
    }

    /// Issue 14, item 10: `ocishim serve` writes nothing into the engine's
    /// bundle. Two containers of one bundle each have their attach socket and
    /// ctl FIFO in their own state dir, where AttachSocketPath leads.
    func testTwoContainersOfOneBundleKeepTheirEndpointsInTheirStateDirs() throws {
        let first = try ShimHarness(self, name: "one")
        let second = try ShimHarness(self, name: "two")
        let bundle = try BusyboxBundle.make(in: first.dir, args: ["/bin/sleep", "1000"])
        let before = try FileManager.default.contentsOfDirectory(atPath: bundle.path).sorted()
        for shim in [first, second] {
            try shim.create(bundle)
            _ = try shim.start()
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: bundle.path).sorted(), before,
                       "nothing is added to the bundle")
        var inodes: Set<UInt64> = []
        for shim in [first, second] {
            let attach: Ocishim_V1_PathResponse = try shim.call("AttachSocketPath", Ocishim_V1_AttachSocketPathRequest())
            XCTAssertEqual(attach.path, "\(shim.stateDir)/sockets/\(shim.id)/attach")
            let resolved = URL(fileURLWithPath: attach.path).resolvingSymlinksInPath().path
            XCTAssertEqual(resolved, "\(shim.stateDir)/attach", "the link leads into the shim's own state dir")
            var st = stat()
            XCTAssertEqual(stat(attach.path, &st), 0, "\(attach.path): \(String(cString: strerror(errno)))")
            XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK)
            inodes.insert(UInt64(st.st_ino))
            XCTAssertEqual(stat(shim.stateDir + "/ctl", &st), 0, "the ctl FIFO is in the state dir")
            XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        }
        XCTAssertEqual(inodes.count, 2, "each container has its own socket")
        for shim in [first, second] {
            let _: Ocishim_V1_DeleteResponse = try shim.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: bundle.path).sorted(), before)
    }

    func testUpdateAndReopenLog() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "echo one; sleep 1; echo two; sleep 1000"])
        try shim.create(bundle)
        _ = try shim.start()
        let _: Ocishim_V1_UpdateResponse = try shim.call("Update", Ocishim_V1_UpdateRequest.with {
            $0.resourcesJson = #"{"memory": {"limit": 67108864}}"#
        })
        XCTAssertEqual(try shim.failure("Update", Ocishim_V1_UpdateRequest.with { $0.resourcesJson = "nope" })?.code, .invalidArgument)
        XCTAssertTrue(try shim.eventually { try shim.logText().contains("one") })
        try FileManager.default.moveItem(atPath: shim.logPath, toPath: shim.logPath + ".1")
        let _: Ocishim_V1_ReopenLogResponse = try shim.call("ReopenLog", Ocishim_V1_ReopenLogRequest())
        XCTAssertTrue(try shim.eventually { (try? shim.logText())?.contains("two") ?? false })
        XCTAssertFalse(try shim.logText().contains("one"), "the new file starts after the reopen")
        let _: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest())
    }
}
