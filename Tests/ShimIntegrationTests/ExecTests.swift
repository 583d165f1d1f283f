import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem
import XCTest

/// Exec sessions and ExecSync on real runc.
final class ExecTests: XCTestCase {
    func testExecSyncExitCodesAndOutput() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        for code in [0, 1, 42] {
            let r = try shim.execSync(["/bin/sh", "-c", "echo out-\(code); echo err-\(code) >&2; exit \(code)"])
            XCTAssertEqual(r.exitCode, Int32(code))
            XCTAssertEqual(String(decoding: r.stdout, as: UTF8.self), "out-\(code)\n")
            XCTAssertEqual(String(decoding: r.stderr, as: UTF8.self), "err-\(code)\n")
            XCTAssertFalse(r.timedOut)
            XCTAssertFalse(r.stdoutTruncated)
        }
        let failed = try shim.failure("ExecSync", Ocishim_V1_ExecSyncRequest.with { $0.exec.args = ["/no/such/binary"] })
        XCTAssertNotNil(failed, "an exec of a missing binary fails")
        XCTAssertTrue(failed?.message.contains("no such file") ?? false, failed?.message ?? "")
    }

    func testExecSessionExitCodeEventsAndCleanup() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        let started: Ocishim_V1_ExecResponse = try shim.call("Exec", shim.execRequest("s1", ["/bin/sh", "-c", "sleep 0.3; exit 7"]))
        XCTAssertGreaterThan(started.pid, 0)
        XCTAssertEqual(try shim.state().execIds, ["s1"])
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("s1", ["/bin/true"]))?.code, .alreadyExists)
        XCTAssertEqual(try shim.failure("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = "s1" })?.code, .failedPrecondition)
        let state = try shim.waitExec("s1")
        XCTAssertFalse(state.running)
        XCTAssertEqual(state.exitCode, 7)
        XCTAssertEqual(state.pid, started.pid)
        XCTAssertEqual(try shim.state().execIds, [])
        let events: [Ocishim_V1_Event] = try {
            let stream = try shim.client.openStream("Events", Ocishim_V1_EventsRequest.with { $0.noFollow = true })
            var all: [Ocishim_V1_Event] = []
            while let e = try stream.next(Ocishim_V1_Event.self, timeoutSeconds: 10) { all.append(e) }
            return all
        }()
        let execEvents = events.filter { $0.execID == "s1" }.map { "\($0.type) \($0.exitCode)" }
        XCTAssertEqual(execEvents, ["execStarted 0", "execExited 7"])
        let socketPath: Ocishim_V1_PathResponse = try shim.call("ExecAttachSocketPath", Ocishim_V1_ExecAttachSocketPathRequest.with { $0.execID = "s1" })
        let _: Ocishim_V1_ExecCleanupResponse = try shim.call("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = "s1" })
        XCTAssertFalse(FileManager.default.fileExists(atPath: socketPath.path), "cleanup removes the session's socket")
        XCTAssertEqual(try shim.failure("ExecState", Ocishim_V1_ExecStateRequest.with { $0.execID = "s1" })?.code, .notFound)
        XCTAssertEqual(shim.zombies(), [])
    }
}

extension ExecTests {
    /// Kill with an exec id signals the session's process, not the
    /// container; ExecState says whether the session has a terminal and a
    /// stdin (what an attach client needs to know); a missing command
    /// carries the COMMAND_NOT_FOUND reason.
    func testKillAnExecSessionAndItsState() throws {
        let shim = try ShimHarness(self)
        let bundle = try shim.startContainer()
        let ready = bundle.rootfs + "/k1-ready"
        let _: Ocishim_V1_ExecResponse = try shim.call("Exec", shim.execRequest("k1", ["/bin/sh", "-c", "trap 'exit 12' USR1; touch /k1-ready; while true; do sleep 0.1; done"]) {
            $0.stdin = true
        })
        let running = try shim.execState("k1")
        XCTAssertTrue(running.running)
        XCTAssertTrue(running.stdin)
        XCTAssertFalse(running.terminal)
        XCTAssertTrue(shim.eventually { FileManager.default.fileExists(atPath: ready) }, "the trap is set")
        let _: Ocishim_V1_KillResponse = try shim.call("Kill", Ocishim_V1_KillRequest.with {
            $0.signal = UInt32(SIGUSR1)
            $0.execID = "k1"
        })
        XCTAssertEqual(try shim.waitExec("k1").exitCode, 12)
        XCTAssertEqual(try shim.state().status, .running, "the container was not signalled")
        XCTAssertEqual(try shim.failure("Kill", Ocishim_V1_KillRequest.with { $0.signal = 15; $0.execID = "k1" })?.code,
                       .failedPrecondition, "an exited session is not signalled")
        XCTAssertEqual(try shim.failure("Kill", Ocishim_V1_KillRequest.with { $0.signal = 15; $0.execID = "nope" })?.code, .notFound)

        let missing = try shim.failure("Exec", shim.execRequest("k2", ["/no/such/binary"]))
        XCTAssertEqual(missing?.code, .notFound)
        XCTAssertEqual(missing?.reason, RPCReason.commandNotFound)
        let denied = try shim.failure("Exec", shim.execRequest("k3", ["/etc/passwd"]))
        XCTAssertEqual(denied?.code, .permissionDenied)
        XCTAssertEqual(denied?.reason, RPCReason.commandNotExecutable)
    }

    func testExecAsUsersOfTheBundle() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        // busybox's id lists the supplementary groups (getgroups) after "groups=".
        let cases: [(user: String, expected: String, home: String)] = [
            ("", "uid=0(root) gid=0(root)", "/root"),
            ("user", "uid=1000(user) gid=1000(user) groups=100(users)", "/home/user"),
            ("1000", "uid=1000(user) gid=1000(user) groups=100(users)", "/home/user"),
            ("1000:100", "uid=1000(user) gid=100(users)", "/home/user"),
            ("user:nogroup", "uid=1000(user) gid=65534(nogroup)", "/home/user"),
            ("nobody", "uid=65534(nobody) gid=65534(nogroup)", "/nonexistent"),
            ("4242:4343", "uid=4242 gid=4343", "/"),
        ]
        for c in cases {
            let r = try shim.execSync(["/bin/sh", "-c", "id; echo HOME=$HOME"]) { $0.user = c.user }
            XCTAssertEqual(r.exitCode, 0, "user \(c.user): \(String(decoding: r.stderr, as: UTF8.self))")
            XCTAssertEqual(String(decoding: r.stdout, as: UTF8.self), "\(c.expected)\nHOME=\(c.home)\n", "user \(c.user)")
        }
        let unknown = try shim.failure("ExecSync", Ocishim_V1_ExecSyncRequest.with { $0.exec.args = ["/bin/id"]; $0.exec.user = "nosuchuser" })
        XCTAssertEqual(unknown?.code, .invalidArgument)
        XCTAssertTrue(unknown?.message.contains("unable to find user nosuchuser") ?? false, unknown?.message ?? "")
        // Supplementary groups, env, cwd.
        let extra = try shim.execSync(["/bin/sh", "-c", "id -G; echo $GREETING; pwd"]) {
            $0.user = "user"
            $0.additionalGroups = ["nogroup", "4444"]
            $0.env = ["GREETING=hi there", "HOME=/tmp"]
            $0.cwd = "/tmp"
        }
        // The kernel sorts the supplementary groups.
        XCTAssertEqual(String(decoding: extra.stdout, as: UTF8.self), "1000 100 4444 65534\nhi there\n/tmp\n")
    }

    func testExecSyncReturnsOneMebibyteOfBinaryOutputExactly() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        // 1 MiB of every byte value, then its checksum on stderr.
        let script = "i=0; while [ $i -lt 4096 ]; do printf '"
            + (0..<256).map { String(format: "\\%03o", $0) }.joined() + "'; i=$((i+1)); done"
        let r = try shim.execSync(["/bin/sh", "-c", script])
        XCTAssertEqual(r.exitCode, 0, String(decoding: r.stderr, as: UTF8.self))
        XCTAssertEqual(r.stdout.count, 1 << 20)
        XCTAssertEqual(r.stdoutBytes, 1 << 20)
        XCTAssertFalse(r.stdoutTruncated)
        let expected = Data((0..<(1 << 20)).map { UInt8($0 & 0xff) })
        XCTAssertTrue(r.stdout == expected, "the output is byte-exact")
    }

    func testExecSyncTimeoutKillsAndSaysSo() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        let start = Date()
        let r = try shim.execSync(["/bin/sh", "-c", "echo started; sleep 30"], timeout: 1)
        XCTAssertTrue(r.timedOut)
        XCTAssertEqual(r.exitCode, 137)
        XCTAssertEqual(String(decoding: r.stdout, as: UTF8.self), "started\n")
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        // The container is untouched.
        XCTAssertEqual(try shim.state().status, .running)
        XCTAssertEqual(shim.zombies(), [])
    }

    func testExecStopSendsTermThenKill() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        /// Starts a session attached and waits until it says it is ready (its
        /// trap is set).
        func startReady(_ id: String, _ script: String) throws -> ClientStream {
            let stream = try shim.attach { $0.exec = .with { $0.execID = id; $0.args = ["/bin/sh", "-c", script] } }
            var seen = AttachTranscript()
            try seen.read(stream) { $0.stdoutText.contains("ready") }
            return stream
        }
        // Handles SIGTERM: stops at once with 143.
        _ = try startReady("term", "trap 'exit 143' TERM; echo ready; while :; do sleep 0.05; done")
        let stopped: Ocishim_V1_ExecStopResponse = try shim.call("ExecStop", Ocishim_V1_ExecStopRequest.with { $0.execID = "term"; $0.timeoutSeconds = 10 })
        XCTAssertEqual(stopped.exitCode, 143)
        // Ignores SIGTERM: SIGKILL after the timeout.
        _ = try startReady("stubborn", "trap '' TERM; echo ready; while :; do sleep 0.05; done")
        let start = Date()
        let killed: Ocishim_V1_ExecStopResponse = try shim.call("ExecStop", Ocishim_V1_ExecStopRequest.with { $0.execID = "stubborn"; $0.timeoutSeconds = 1 })
        XCTAssertEqual(killed.exitCode, 137)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.9)
        XCTAssertEqual(try shim.execState("stubborn").exitCode, 137)
        // Stopping an exited session answers with its code.
        let again: Ocishim_V1_ExecStopResponse = try shim.call("ExecStop", Ocishim_V1_ExecStopRequest.with { $0.execID = "stubborn" })
        XCTAssertEqual(again.exitCode, 137)
    }

    func testTwoHundredExecsLeaveNoZombieNoFdAndNoGrowth() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        // Warm up: the first execs allocate what the shim keeps anyway.
        for i in 0..<10 { _ = try shim.execSync(["/bin/echo", "warm \(i)"]) }
        // The fds once the warm-up's last runtime call has been reaped (its
        // output pipes close then), not a moment's snapshot.
        var fds = shim.shimFDs()
        _ = shim.eventually(5) {
            usleep(200_000)
            let now = shim.shimFDs()
            defer { fds = now }
            return now == fds
        }
        let rss = shim.shimRSS()
        for i in 0..<100 {
            let r = try shim.execSync(["/bin/sh", "-c", "echo \(i); exit \(i % 3)"])
            XCTAssertEqual(r.exitCode, Int32(i % 3))
        }
        for i in 0..<100 {
            let id = "e\(i)"
            let _: Ocishim_V1_ExecResponse = try shim.call("Exec", shim.execRequest(id, ["/bin/echo", "session \(i)"]))
            XCTAssertEqual(try shim.waitExec(id).exitCode, 0)
            let _: Ocishim_V1_ExecCleanupResponse = try shim.call("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = id })
        }
        XCTAssertEqual(shim.zombies(), [])
        XCTAssertTrue(shim.eventually(5) { shim.shimFDs() == fds }, "fds before \(fds), after \(shim.shimFDs())")
        let grown = shim.shimRSS() - rss
        XCTAssertLessThan(grown, 1024, "the shim's RSS grew by \(grown) kB over 200 execs")
        print("200 execs: RSS \(rss) kB -> \(shim.shimRSS()) kB, fds \(fds.count)")
    }

    func testTwentyConcurrentExecs() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        var streams: [(UInt32, Int)] = []
        for i in 0..<20 {
            let request = Ocishim_V1_ExecSyncRequest.with {
                $0.exec.args = ["/bin/sh", "-c", "sleep 0.5; echo run-\(i); exit \(i)"]
            }
            streams.append((try shim.client.sendRequest("ExecSync", payload: try request.serializedBytes(), flags: []), i))
        }
        let start = Date()
        for (stream, i) in streams {
            let response = try shim.client.awaitResponse(streamID: stream, what: "ExecSync \(i)", timeoutSeconds: 60)
            XCTAssertNil(RPCError(status: response.status), "exec \(i)")
            let r = try Ocishim_V1_ExecSyncResponse(serializedBytes: [UInt8](response.payload))
            XCTAssertEqual(r.exitCode, Int32(i))
            XCTAssertEqual(String(decoding: r.stdout, as: UTF8.self), "run-\(i)\n")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        XCTAssertEqual(shim.zombies(), [])
    }

    func testExecNeedsARunningContainerAndValidInput() throws {
        let shim = try ShimHarness(self)
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", ["/bin/true"]))?.code, .failedPrecondition, "no container")
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", ["/bin/true"]))?.code, .failedPrecondition, "created, not running")
        _ = try shim.start()
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", []))?.code, .invalidArgument, "no command")
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("", ["/bin/true"]))?.code, .invalidArgument, "no session id")
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("../x", ["/bin/true"]))?.code, .invalidArgument, "bad session id")
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", ["/bin/true"]) { $0.env = ["NOEQUALS"] })?.code, .invalidArgument)
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", ["/bin/true"]) { $0.cwd = "relative" })?.code, .invalidArgument)
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", ["/bin/true"]) { $0.capAdd = ["not a cap!"] })?.code, .invalidArgument)
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", ["/bin/true"]) { $0.preserveFds = 2 })?.code, .invalidArgument)
        XCTAssertEqual(try shim.failure("ExecState", Ocishim_V1_ExecStateRequest.with { $0.execID = "nope" })?.code, .notFound)
        XCTAssertEqual(try shim.failure("ExecResize", Ocishim_V1_ExecResizeRequest.with { $0.execID = "nope"; $0.height = 1 })?.code, .notFound)
        let _: Ocishim_V1_PauseResponse = try shim.call("Pause", Ocishim_V1_PauseRequest())
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("x", ["/bin/true"]))?.code, .failedPrecondition, "paused")
        let _: Ocishim_V1_ResumeResponse = try shim.call("Resume", Ocishim_V1_ResumeRequest())
        // Capabilities added to the spec reach the process.
        let caps = try shim.execSync(["/bin/sh", "-c", "grep CapEff /proc/self/status"]) { $0.capAdd = ["sys_admin"] }
        let plain = try shim.execSync(["/bin/sh", "-c", "grep CapEff /proc/self/status"])
        XCTAssertNotEqual(caps.stdout, plain.stdout, "CAP_SYS_ADMIN was added")
    }
}

extension ExecTests {
    /// ExecSync's answer is one 4 MiB ttrpc message: more output is cut to
    /// fit and reported, and the process is not held up by it.
    func testExecSyncOutputBeyondOneMessageIsTruncatedAndReported() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        let r = try shim.execSync(["/bin/sh", "-c", "head -c 6000000 /dev/zero; head -c 1000 /dev/zero >&2; exit 4"])
        XCTAssertEqual(r.exitCode, 4)
        XCTAssertEqual(r.stdoutBytes, 6_000_000)
        XCTAssertEqual(r.stderrBytes, 1000)
        XCTAssertTrue(r.stdoutTruncated)
        XCTAssertFalse(r.stderrTruncated)
        XCTAssertEqual(r.stderr.count, 1000)
        XCTAssertGreaterThan(r.stdout.count, 3_000_000)
        XCTAssertLessThan(r.stdout.count + r.stderr.count, 4 << 20)
        // The cap asked for applies per stream.
        let capped = try shim.call("ExecSync", Ocishim_V1_ExecSyncRequest.with {
            $0.exec.args = ["/bin/sh", "-c", "echo 0123456789; echo abc >&2"]
            $0.maxOutputBytes = 4
        }, as: Ocishim_V1_ExecSyncResponse.self)
        XCTAssertEqual(String(decoding: capped.stdout, as: UTF8.self), "0123")
        XCTAssertEqual(String(decoding: capped.stderr, as: UTF8.self), "abc\n")
        XCTAssertTrue(capped.stdoutTruncated)
        XCTAssertFalse(capped.stderrTruncated)
    }

    /// conmon's `2 0 0` on the ctl FIFO reopens the log.
    func testControlFIFOReopensTheLog() throws {
        let shim = try ShimHarness(self)
        let bundle = try shim.startContainer(["/bin/sh", "-c", "echo before; read x; echo after; read y; exit 0"]) { $0.stdin = true }
        XCTAssertTrue(try shim.eventually { try shim.logText() == "before\n" })
        try FileManager.default.moveItem(atPath: shim.logPath, toPath: shim.logPath + ".1")
        let ctl = FileHandle(forWritingAtPath: shim.stateDir + "/ctl")!
        ctl.write(Data("2 0 0\n".utf8))
        try ctl.close()
        XCTAssertTrue(shim.eventually { FileManager.default.fileExists(atPath: shim.logPath) }, "reopened")
        let stream = try shim.attach { $0.stdin = true }
        try stream.closeSend()
        var seen = AttachTranscript()
        try seen.read(stream)
        XCTAssertEqual(seen.exitCode, 0)
        XCTAssertEqual(try shim.logText(), "after\n")
        XCTAssertEqual(try shim.logText(shim.logPath + ".1"), "before\n")
    }
}

/// `ocictl exec` and `ocictl attach` against a shim reached through its socket.
final class OcictlExecTests: XCTestCase {
    private func ocictl(_ args: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestSupport.ocictl())
        process.arguments = args
        let out = Pipe()
        process.standardOutput = out
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testOcictlExecExitsWithTheCommandsCodeAndAttachForwardsStdin() throws {
        let root = try TestSupport.makeTemporaryDirectory(prefix: "ocictl-exec", for: self)
        let id = "ocictl-exec-\(getpid())"
        let bundle = try BusyboxBundle.make(in: root, args: ["/bin/cat"])
        addTeardownBlock { _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id]) }
        let state = ["--state-root", root + "/state"]
        XCTAssertEqual(try ocictl(["create"] + state + ["--stdin", "--bundle", bundle.path, "--shim", try TestSupport.ocishim(), id]).status, 0)
        XCTAssertEqual(try ocictl(["start"] + state + [id]).status, 0)
        let exec = try ocictl(["exec"] + state + ["--user", "user", "--env", "X=y", "--cwd", "/tmp", id, "--", "/bin/sh", "-c", "id -u; echo $X; pwd; exit 9"])
        XCTAssertEqual(exec.status, 9)
        XCTAssertEqual(exec.output, "1000\ny\n/tmp\n")
        let interactive = try ocictl(["exec", "-i"] + state + [id, "--", "/bin/sh", "-c", "cat; exit 0"], stdin: "piped in\n")
        XCTAssertEqual(interactive.status, 0)
        XCTAssertEqual(interactive.output, "piped in\n")
        // attach: stdin reaches cat; its end closes cat's stdin; the container's code is ocictl's.
        let attached = try ocictl(["attach"] + state + [id], stdin: "to the container\n")
        XCTAssertEqual(attached.status, 0)
        XCTAssertEqual(attached.output, "to the container\n")
        XCTAssertEqual(try ocictl(["rm", "-f"] + state + [id]).status, 0)
    }
}

/// `ocictl exec -t -i` and `ocictl attach` in a real terminal (tmux): raw
/// mode, the window size, SIGWINCH as a resize, the detach keys.
final class OcictlTerminalTests: XCTestCase {
    private var server = ""

    /// Runs tmux with an exact fd table (ShimSystem's Spawner): Foundation's
    /// Process notices a child's exit through an fd the child inherits, and
    /// the tmux server that new-session leaves behind would hold it forever.
    @discardableResult
    private func tmux(_ args: [String]) throws -> String {
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devnull) }
        let pipe = try ShimSystem.Pipe.make()
        let (readEnd, writeEnd) = (pipe.read.rawValue, pipe.write.rawValue)
        var options = SpawnOptions(path: "/usr/bin/tmux", arguments: ["tmux", "-L", server] + args,
                                   environment: ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "TERM=xterm"])
        let captures = args.first == "capture-pane"
        options.fds = SpawnOptions.fdTable([(0, devnull), (1, captures ? writeEnd : devnull), (2, devnull)])
        let pid: pid_t
        do { pid = try Spawner.spawn(options) } catch {
            close(readEnd); close(writeEnd)
            throw error
        }
        close(writeEnd)
        defer { close(readEnd) }
        var output: [UInt8] = []
        if captures {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                output += buffer[0..<n]
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return String(decoding: output, as: UTF8.self)
    }

    /// Polls the pane until it shows `text`.
    private func waitForPane(_ text: String, seconds: Double = 10) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var pane = ""
        while Date() < deadline {
            pane = try tmux(["capture-pane", "-p", "-t", "t"])
            if pane.contains(text) { return pane }
            usleep(100_000)
        }
        XCTFail("the terminal never showed \(text.debugDescription):\n\(pane)")
        return pane
    }

    func testExecWithATerminalFollowsTheWindowAndAttachDetaches() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            throw XCTSkip("tmux is not installed (Scripts/install-deps installs it)")
        }
        server = "ocishim-test-\(getpid())"
        addTeardownBlock { [self] in try? tmux(["kill-server"]) }
        let root = try TestSupport.makeTemporaryDirectory(prefix: "ocictl-tty", for: self)
        let id = "ocictl-tty-\(getpid())"
        let bundle = try BusyboxBundle.make(in: root, args: ["/bin/sh"], terminal: true)
        addTeardownBlock { _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id]) }
        let ocictl = try TestSupport.ocictl()
        let state = ["--state-root", root + "/state"]
        XCTAssertEqual(try TestSupport.run(ocictl, ["create"] + state + ["--tty", "--stdin", "--bundle", bundle.path,
                                                                          "--shim", try TestSupport.ocishim(), id]).status, 0)
        XCTAssertEqual(try TestSupport.run(ocictl, ["start"] + state + [id]).status, 0)

        let exec = ([ocictl, "exec", "-t", "-i"] + state + [id, "--", "/bin/sh"]).joined(separator: " ")
        try tmux(["new-session", "-d", "-s", "t", "-x", "90", "-y", "25", "\(exec); echo EXIT=$?; sleep 60"])
        _ = try waitForPane("/ #")
        try tmux(["send-keys", "-t", "t", "stty size", "Enter"])
        _ = try waitForPane("25 90")
        try tmux(["resize-window", "-t", "t", "-x", "70", "-y", "20"])
        usleep(300_000)
        try tmux(["send-keys", "-t", "t", "stty size; tty", "Enter"])
        _ = try waitForPane("20 70")
        try tmux(["send-keys", "-t", "t", "exit 7", "Enter"])
        _ = try waitForPane("EXIT=7")
        try tmux(["kill-session", "-t", "t"])

        let attach = ([ocictl, "attach"] + state + [id]).joined(separator: " ")
        try tmux(["new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "\(attach); echo EXIT=$?; sleep 60"])
        usleep(500_000)
        try tmux(["send-keys", "-t", "t", "echo attached-$((40+2))", "Enter"])
        _ = try waitForPane("attached-42")
        try tmux(["send-keys", "-t", "t", "C-p", "C-q"])
        let pane = try waitForPane("EXIT=0")
        XCTAssertTrue(pane.contains("detached from \(id)"), pane)
        let status = try TestSupport.run(ocictl, ["state"] + state + [id])
        XCTAssertTrue(status.output.contains("running"), "detaching leaves the container running: \(status.output)")
        XCTAssertEqual(try TestSupport.run(ocictl, ["rm", "-f"] + state + [id]).status, 0)
    }
}
