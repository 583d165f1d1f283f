import Foundation
import Glibc
import ShimSystem
import XCTest

/// What `ocictl` and a shim must not do to containers that are not theirs,
/// and how a container is still inspected and removed once its shim is gone
/// or its create was interrupted. Real runc, real busybox containers.
final class OcictlTrustTests: XCTestCase {
    private var root = ""
    private var bundle: BusyboxBundle!
    private static let runc = "/usr/sbin/runc"

    override func setUpWithError() throws {
        let dir = try TestSupport.makeTemporaryDirectory(prefix: "ocictl-trust", for: self)
        root = dir + "/root"
        bundle = try BusyboxBundle.make(in: dir, args: ["/bin/sleep", "1000"])
    }

    /// A fresh container id; teardown kills its shim and deletes it from runc.
    private func newID(_ name: String) -> String {
        let id = "\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        let dir = stateDir(id)
        addTeardownBlock {
            for pid in ProcessTable.pids(withArgument: dir) { kill(pid, SIGKILL) }
            _ = try? TestSupport.run(Self.runc, ["delete", "--force", id])
        }
        return id
    }

    private func stateDir(_ id: String) -> String { root + "/" + id }

    private func ocictl(_ command: String, _ arguments: String...) throws -> ProgramRun {
        let run = try ProgramRun.ocictl([command, "--state-root", root] + arguments, seconds: 30)
        XCTAssertTrue(run.reachedEOF, "ocictl \(command) \(arguments.joined(separator: " ")): its output did not reach EOF")
        return run
    }

    /// create + start of a `sleep 1000` container; returns its init's pid
    /// once the shim has written the start into state.json (it writes after
    /// answering).
    private func startContainer(_ id: String) throws -> Int32 {
        let created = try ocictl("create", "--bundle", bundle.path, id)
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual(try ocictl("start", id).status, 0)
        XCTAssertTrue(TestSupport.eventually {
            ((try? String(contentsOfFile: self.stateDir(id) + "/state.json", encoding: .utf8)) ?? "").contains("\"status\":\"running\"")
        })
        return try XCTUnwrap(Int32(created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    private func shimPid(_ id: String) throws -> Int32 {
        let text = try String(contentsOfFile: stateDir(id) + "/shim.pid", encoding: .utf8)
        return try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    private func runcKnows(_ id: String) throws -> Bool {
        try ProgramRun.run(Self.runc, ["state", id], seconds: 30).status == 0
    }

    /// Nothing of `id` is left: no shim, no state dir, nothing in runc.
    private func assertNothingLeft(_ id: String, _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = stateDir(id)
        XCTAssertTrue(TestSupport.eventually(10) { ProcessTable.pids(withArgument: dir).isEmpty },
                      "\(context): a process still serves \(dir)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "\(context): \(dir) is left", file: file, line: line)
        XCTAssertFalse(try runcKnows(id), "\(context): runc still knows \(id)", file: file, line: line)
    }

    // --- a create must not harm an existing container (issue 11, item 2) -------

    func testCreateOfALiveIdIsRefusedAndLeavesTheLiveContainerAlone() throws {
        let id = newID("dup")
        let pid = try startContainer(id)
        let shim = try shimPid(id)
        let stateBefore = try String(contentsOfFile: stateDir(id) + "/state.json", encoding: .utf8)

        let second = try ocictl("create", "--bundle", bundle.path, id)
        XCTAssertNotEqual(second.status, 0)
        XCTAssertTrue(second.stderr.contains("container \(id) already exists"), second.stderr)

        for name in ["state.json", "ctr.log", "shim.sock", "shim.pid"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: stateDir(id) + "/" + name), "\(name) is gone")
        }
        XCTAssertEqual(try String(contentsOfFile: stateDir(id) + "/state.json", encoding: .utf8), stateBefore)
        XCTAssertTrue(ShimHarness.alive(shim), "the live shim is untouched")
        XCTAssertTrue(ShimHarness.alive(pid), "the live container is untouched")
        let state = try ocictl("state", id)
        XCTAssertTrue(state.stdout.contains("status:   running"), state.stdout + state.stderr)

        XCTAssertEqual(try ocictl("rm", "--force", id).status, 0)
        try assertNothingLeft(id, "after rm --force")
    }

    func testAFailedCreateKeepsAStateDirItDidNotMake() throws {
        let id = newID("theirs")
        try FileManager.default.createDirectory(atPath: stateDir(id), withIntermediateDirectories: true)
        try Data("not ocictl's".utf8).write(to: URL(fileURLWithPath: stateDir(id) + "/mine"))

        let created = try ocictl("create", "--bundle", "/nonexistent-bundle", id)
        XCTAssertNotEqual(created.status, 0)
        XCTAssertTrue(created.stderr.contains("already exists"), created.stderr)
        XCTAssertEqual(try String(contentsOfFile: stateDir(id) + "/mine", encoding: .utf8), "not ocictl's")
        XCTAssertTrue(ProcessTable.pids(withArgument: stateDir(id)).isEmpty, "no shim was started for it")
    }

    func testAFailedCreateRemovesWhatItMadeOnceItsShimIsGone() throws {
        let id = newID("badbundle")
        let created = try ocictl("create", "--bundle", "/nonexistent-bundle", id)
        XCTAssertNotEqual(created.status, 0)
        XCTAssertTrue(created.stderr.contains("nonexistent-bundle"), created.stderr)
        try assertNothingLeft(id, "after a failed create")
    }

    func testServeRefusesAStateDirThatALiveShimServes() throws {
        let id = newID("serve-dup")
        _ = try startContainer(id)
        let shim = try shimPid(id)
        let stateBefore = try String(contentsOfFile: stateDir(id) + "/state.json", encoding: .utf8)

        let second = try ProgramRun.run(try TestSupport.ocishim(), ["serve", "--id", id, "--state-dir", stateDir(id)], seconds: 30)
        XCTAssertTrue(second.reachedEOF)
        XCTAssertEqual(second.status, 1, "refused with a non-zero exit")
        XCTAssertTrue(second.stderr.contains("another shim already serves \(stateDir(id))"), second.stderr)
        XCTAssertEqual(try String(contentsOfFile: stateDir(id) + "/state.json", encoding: .utf8), stateBefore,
                       "the live shim's state.json is not overwritten")
        XCTAssertTrue(ShimHarness.alive(shim))
        let state = try ocictl("state", id)
        XCTAssertTrue(state.stdout.contains("status:   running"), state.stdout + state.stderr)
    }

    func testServeRefusesAStateDirWhoseLockIsHeldBeforeItListens() throws {
        // A shim between taking its lock and listening: only the lock says so.
        let dir = stateDir(newID("locked"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let held = try XCTUnwrap(try StateDirLock.acquire(stateDir: dir))
        defer { try? held.close() }

        let second = try ProgramRun.run(try TestSupport.ocishim(), ["serve", "--id", "locked", "--state-dir", dir], seconds: 30)
        XCTAssertEqual(second.status, 1, "refused with a non-zero exit")
        XCTAssertTrue(second.stderr.contains("another shim already serves \(dir)"), second.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [StateDirLock.fileName], "nothing written")
    }

    /// The process the engine starts forks before it parses anything
    /// (Detach): what the shim then finds wrong still reaches the engine as
    /// that process's exit status and stderr, and no shim stays behind.
    func testAShimThatFailsToStartReportsThroughTheProcessTheEngineStarted() throws {
        let missing = try ProgramRun.run(try TestSupport.ocishim(), ["serve", "--id", "x"], seconds: 30)
        XCTAssertEqual(missing.status, 64, "a command-line error: " + missing.stderr)
        XCTAssertTrue(missing.stderr.contains("missing expected argument '--state-dir <dir>'"), missing.stderr)

        let dir = stateDir(newID("bad-runtime"))
        let badRuntime = try ProgramRun.run(try TestSupport.ocishim(),
                                            ["serve", "--id", "x", "--state-dir", dir, "--runtime", "no-such-runtime-here"], seconds: 30)
        XCTAssertEqual(badRuntime.status, 1, badRuntime.stderr)
        XCTAssertTrue(badRuntime.stderr.contains("no valid executable found for OCI runtime no-such-runtime-here"), badRuntime.stderr)
        XCTAssertTrue(ProcessTable.pids(withArgument: dir).isEmpty, "no shim stays behind")

        let help = try ProgramRun.run(try TestSupport.ocishim(), ["serve", "--help"], seconds: 30)
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("USAGE: ocishim serve"), help.stdout)
    }

    // --- a container whose shim is gone (item 5) --------------------------------

    /// A running container whose shim was SIGKILLed: its id, init and shim pids.
    private func orphan(_ name: String) throws -> (id: String, pid: Int32, shim: Int32) {
        let id = newID(name)
        let pid = try startContainer(id)
        let shim = try shimPid(id)
        kill(shim, SIGKILL)
        XCTAssertTrue(TestSupport.eventually { !ShimHarness.alive(shim) })
        return (id, pid, shim)
    }

    func testAContainerWhoseShimWasKilledIsInspectedSignalledAndRemovedThroughRunc() throws {
        let (id, pid, shim) = try orphan("orphan")

        let listed = try ocictl("ps")
        let row = try XCTUnwrap(listed.stdout.split(separator: "\n").first { $0.hasPrefix(id) }, listed.stdout)
        XCTAssertTrue(row.contains(" orphaned ") && row.contains(" gone "), String(row))

        let state = try ocictl("state", id)
        XCTAssertEqual(state.status, 0, state.stderr)
        XCTAssertTrue(state.stdout.contains("shim:     gone (was pid \(shim))"), state.stdout)
        XCTAssertTrue(state.stdout.contains("status:   running (runc state)"), state.stdout)
        XCTAssertTrue(state.stdout.contains("pid:      \(pid)"), state.stdout)

        let refused = try ocictl("rm", id)
        XCTAssertNotEqual(refused.status, 0, "a running container is removed only with --force")
        XCTAssertTrue(refused.stderr.contains("rm --force"), refused.stderr)
        XCTAssertTrue(ShimHarness.alive(pid))

        let killed = try ocictl("kill", id, "KILL")
        XCTAssertEqual(killed.status, 0, killed.stderr)
        XCTAssertTrue(TestSupport.eventually { !ShimHarness.alive(pid) }, "runc kill reached the container")
        XCTAssertTrue(TestSupport.eventually {
            ((try? self.ocictl("state", id))?.stdout ?? "").contains("status:   stopped (runc state)")
        })
        let stoppedRow = try ocictl("ps").stdout.split(separator: "\n").first { $0.hasPrefix(id) }
        XCTAssertTrue(stoppedRow?.contains(" stopped ") == true, String(stoppedRow ?? ""))

        let removed = try ocictl("rm", id)
        XCTAssertEqual(removed.status, 0, removed.stderr)
        try assertNothingLeft(id, "after rm of a stopped orphan")
    }

    func testRemoveForceOfARunningContainerWhoseShimWasKilledLeavesNothing() throws {
        let (id, pid, _) = try orphan("orphan-force")
        XCTAssertTrue(try runcKnows(id))

        let removed = try ocictl("rm", "--force", id)
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertTrue(TestSupport.eventually { !ShimHarness.alive(pid) }, "the container was killed")
        try assertNothingLeft(id, "after rm --force of an orphan")
    }

    // --- the shim lets go of its spawner's stdio (item 6) -----------------------

    func testCreateWithStderrOnAPipeReachesEOFWhileTheContainerLivesAndTheShimLogsToItsFile() throws {
        let id = newID("stderr")
        let created = try ProgramRun.ocictl(["create", "--state-root", root, "--bundle", bundle.path, id], seconds: 30)
        XCTAssertTrue(created.reachedEOF, "ocictl create's stdout/stderr pipes reach EOF (the shim holds neither)")
        XCTAssertEqual(created.status, 0, created.stderr)
        let shim = try shimPid(id)
        XCTAssertTrue(ShimHarness.alive(shim), "the shim still runs")
        XCTAssertTrue(try ocictl("state", id).stdout.contains("status:   created"))

        // A client that leaves mid-frame makes the shim warn.
        let sock = try UnixSocket.connect(path: stateDir(id) + "/shim.sock", type: Int32(SOCK_STREAM.rawValue)).rawValue
        let partial: [UInt8] = [0, 0, 0, 40, 0]
        _ = partial.withUnsafeBytes { write(sock, $0.baseAddress, $0.count) }
        close(sock)
        let shimLog = stateDir(id) + "/shim.log"
        XCTAssertTrue(TestSupport.eventually {
            ((try? String(contentsOfFile: shimLog, encoding: .utf8)) ?? "").contains("in the middle of a frame")
        }, "the shim's warning is in \(shimLog)")
        // Its stderr is that file too, so a crash report from the Swift
        // runtime is kept instead of lost.
        let stderrTarget = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(shim)/fd/2")
        XCTAssertEqual(stderrTarget, shimLog)

        XCTAssertEqual(try ocictl("rm", "--force", id).status, 0)
        try assertNothingLeft(id, "after rm --force")
    }

    // --- a create interrupted anywhere is removable (item 8) ---------------------

    /// ocictl is killed at each step of a create, found by watching the
    /// state dir (so the points do not depend on the machine's speed): as
    /// it starts, once the dir exists, once the shim holds its lock, listens,
    /// has written state.json, is in `runc create` (its runtime log dir; the
    /// runtime takes a second there, so `rm --force` comes while the create
    /// is in flight), and once runc has written the pid file.
    func testRemoveForceCleansUpAfterACreateKilledAtAnyPoint() throws {
        let ocictlPath = try TestSupport.ocictl()
        let slowRuntime = FileManager.default.temporaryDirectory.path + "/slow-runc-\(UUID().uuidString)"
        try "#!/bin/sh\nfor a; do [ \"$a\" = create ] && sleep 1; done\nexec \(Self.runc) \"$@\"\n"
            .write(toFile: slowRuntime, atomically: true, encoding: .utf8)
        chmod(slowRuntime, 0o755)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: slowRuntime) }
        var seen: [String] = []
        for milestone in ["", ".", "shim.lock", "shim.sock", "state.json", "runtime", "pidfile"] {
            let id = newID("killed")
            let dir = stateDir(id)
            let create = Process()
            create.executableURL = URL(fileURLWithPath: ocictlPath)
            create.arguments = ["create", "--state-root", root, "--bundle", bundle.path, "--runtime", slowRuntime, id]
            create.standardInput = FileHandle.nullDevice
            create.standardOutput = FileHandle.nullDevice
            create.standardError = FileHandle.nullDevice
            try create.run()
            let target = milestone.isEmpty ? nil : dir + "/" + milestone
            let deadline = Date().addingTimeInterval(30)
            while let target, !FileManager.default.fileExists(atPath: target), create.isRunning, Date() < deadline {
                usleep(200)
            }
            kill(create.processIdentifier, SIGKILL)
            create.waitUntilExit()
            let point = milestone.isEmpty ? "at once" : "once \(milestone == "." ? "the state dir" : milestone) existed"
            XCTAssertEqual(create.terminationReason, .uncaughtSignal, "ocictl was killed \(point), not done before")

            let hadDir = FileManager.default.fileExists(atPath: dir)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            let found = hadDir ? "state dir [\(files.joined(separator: " "))]" : "no state dir"
            seen.append("killed \(point): \(found)")

            let removed = try ocictl("rm", "--force", id)
            if hadDir {
                XCTAssertEqual(removed.status, 0, "killed \(point) (\(found)): \(removed.stderr)")
            } else {
                XCTAssertTrue(removed.stderr.contains("does not exist"), removed.stderr)
            }
            try assertNothingLeft(id, "killed \(point) (\(found))")
        }
        print("OcictlTrustTests: create killed\n  " + seen.joined(separator: "\n  "))
    }
}
