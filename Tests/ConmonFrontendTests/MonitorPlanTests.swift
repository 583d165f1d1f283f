import ConmonFrontend
import Glibc
import ShimCore
import ShimSystem
import SystemPackage
import XCTest

/// conmon's checks (process_cli, configure_log_drivers) in conmon's order
/// and words, and the mapping onto the core's options.
final class MonitorPlanTests: XCTestCase {
    /// A system where every runtime path is executable and every log opens.
    private var system: MonitorPlan.System {
        var s = MonitorPlan.System()
        s.access = { path, _ in path.hasPrefix("/not") ? ENOENT : 0 }
        s.isatty = { _ in false }
        s.getenv = { _ in nil }
        s.openLog = { path in path.hasPrefix("/nonexistent") ? ENOENT : 0 }
        return s
    }

    private func plan(_ arguments: [String], cwd: String = "/work") throws -> MonitorPlan {
        try MonitorPlan(try ConmonCommandLine.options(arguments), workingDirectory: cwd, system: system)
    }

    private func assertFailure(_ arguments: [String], _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try plan(arguments), line: line) { error in
            XCTAssertEqual((error as? ConmonFailure)?.description, expected, line: line)
        }
    }

    private let base = ["--api-version", "1", "-c", "0123456789abcdef", "-u", "0123456789abcdef", "-r", "/usr/bin/runc"]

    func testChecksInConmonsOrderAndWords() {
        assertFailure([], "[conmon:e] Container ID not provided. Use --cid")
        assertFailure(["-c", "x"], "[conmon:e] Container UUID not provided. Use --cuuid")
        assertFailure(["-c", "x", "-u", "x"], "[conmon:e] Runtime path not provided. Use --runtime")
        assertFailure(["-c", "x", "-u", "x", "-r", "/r"], "[conmon:e] Log driver not provided. Use --log-path")
        assertFailure(["-c", "x", "--log-level", "loud", "-e", "--restore", "/x"], "[conmon:e]: No such log level loud")
        assertFailure(base + ["--restore", "/x", "-e"], "[conmon:e] Cannot use 'exec' and 'restore' at the same time")
        assertFailure(base + ["--exec-attach"], "[conmon:e] Attach can only be specified with exec")
        assertFailure(["-c", "x", "-u", "x", "-r", "/r", "-e", "--exec-attach"],
                      "[conmon:e] Attach can only be specified for a non-legacy exec session")
        // The legacy exec API needs no --cuuid: the runtime comes next.
        assertFailure(["-c", "x", "-e"], "[conmon:e] Runtime path not provided. Use --runtime")
        assertFailure(base + ["-e", "-l", "none"], "[conmon:e] Exec process spec path not provided. Use --exec-process-spec")
        assertFailure(base + ["--exit-delay", "-1", "-l", "none"],
                      "[conmon:e] Delay before invoking exit command must be greater than or equal to 0")
        // The runtime is checked before the log drivers, by access(X_OK) only.
        assertFailure(["-c", "x", "-u", "x", "-r", "/not/a/path"],
                      "[conmon:e]: Runtime path /not/a/path is not valid No such file or directory")
        XCTAssertNoThrow(try plan(["-c", "x", "-u", "x", "-r", "/tmp", "-l", "none"]))
    }

    func testConmon22sLogMaxFilesBounds() {
        assertFailure(base + ["-l", "none", "--log-max-files", "-1"], "[conmon:e] log-max-files must be non-negative")
        assertFailure(base + ["-l", "none", "--log-max-files", "1001"], "[conmon:e] log-max-files cannot exceed 1000")
        assertFailure(base + ["-l", "none", "--log-rotate", "--log-max-files", "0"],
                      "[conmon:e] log-max-files must be at least 1 when log-rotate is enabled")
        XCTAssertNoThrow(try plan(base + ["-l", "none", "--log-max-files", "0"]))
    }

    func testLogDriversAsConmonParsesThem() throws {
        func drivers(_ specs: [String]) throws -> [LogDriverKind] {
            try plan(base + specs.flatMap { ["-l", $0] }).logDrivers
        }
        XCTAssertEqual(try drivers(["k8s-file:/l/ctr.log"]), [.k8sFile(path: "/l/ctr.log")])
        XCTAssertEqual(try drivers(["ctr.log"]), [.k8sFile(path: "/work/ctr.log")])
        XCTAssertEqual(try drivers([":/l/none"]), [.k8sFile(path: "/l/none")])
        // strtok: a third field is dropped; the last k8s-file wins.
        XCTAssertEqual(try drivers(["k8s-file:/a:b"]), [.k8sFile(path: "/a")])
        XCTAssertEqual(try drivers(["k8s-file:/one", "/two"]), [.k8sFile(path: "/two")])
        XCTAssertEqual(try drivers(["journald", "none", "off", "null"]), [.journald()])
        XCTAssertEqual(try drivers(["journald:ignored", "k8s-file:/x"]), [.k8sFile(path: "/x"), .journald()])
        XCTAssertTrue(try plan(base + ["-l", "passthrough", "-l", "k8s-file:/x"]).passthrough)
        assertFailure(base + ["-l", "k8s-file"], "[conmon:e]: k8s-file requires a filename")
        assertFailure(base + ["-l", "syslog:/x"], "[conmon:e]: No such log driver syslog")
        assertFailure(base + ["-l", ""], "[conmon:e]: log-path must not be empty")
        assertFailure(base + ["-l", ":"], "[conmon:e]: log-path must not be empty")
        assertFailure(base + ["-l", "k8s-file:/nonexistent/x"], "[conmon:e]: Failed to open log file No such file or directory")
        assertFailure(base + ["-l", "k8s-file:/x", "--log-tag", "t"], "[conmon:e] k8s-file doesn't support --log-tag")
        assertFailure(base + ["-l", "k8s-file:/x", "--log-label", "A=b"], "[conmon:e] k8s-file doesn't support --log-label")
        XCTAssertNoThrow(try plan(base + ["-l", "k8s-file:/x", "-l", "journald", "--log-tag", "t"]))
        assertFailure(["-c", "short", "-u", "short", "-r", "/r", "-l", "journald"],
                      "[conmon:e] Container ID must be longer than 12 characters")
        assertFailure(base + ["-l", "journald", "--log-label", "=x"],
                      "[conmon:e]: Container labels must be in format LABEL=VALUE (no LABEL present in '=x')")
        assertFailure(base + ["-l", "journald", "--log-label", "a=x"],
                      "[conmon:e]: Container label names must contain only uppercase letters, numbers and underscore (in 'a=x')")
    }

    func testPassthroughOnATerminalIsRefused() {
        var tty = system
        tty.isatty = { $0 == 0 }
        XCTAssertThrowsError(try MonitorPlan(try ConmonCommandLine.options(base + ["-l", "passthrough"]),
                                             workingDirectory: "/w", system: tty)) { error in
            XCTAssertEqual((error as? ConmonFailure)?.message,
                           "cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI")
        }
    }

    func testDefaultsFromTheWorkingDirectory() throws {
        let p = try plan(base + ["-l", "none"], cwd: "/bundles/c1")
        XCTAssertEqual(p.bundle, "/bundles/c1")
        XCTAssertEqual(p.containerPidFile, "/bundles/c1/pidfile-0123456789abcdef")
        XCTAssertEqual(p.mode, .create)
        XCTAssertEqual(try plan(base + ["-l", "none", "--restore", "/ck"]).mode, .restore)
        // An exec without -b has no bundle (no attach socket).
        XCTAssertNil(try plan(base + ["-l", "none", "-e", "--exec-process-spec", "/s"]).bundle)
    }

    func testCreateOptionsCarryEveryOption() throws {
        let p = try plan(base + [
            "-b", "/b", "-p", "/run/pid", "-n", "web", "-l", "k8s-file:/b/ctr.log", "--log-size-max", "1000",
            "--exit-dir", "/exits", "--persist-dir", "/persist", "--socket-dir-path", "/sock", "--full-attach",
            "--exit-command", "/usr/bin/podman", "--exit-command-arg", "cleanup", "--exit-delay", "2",
            "-i", "--leave-stdin-open", "--no-pivot", "--no-new-keyring", "-s", "--log-global-size-max", "9000",
            "--no-sync-log", "--log-rotate", "--log-max-files", "1",
            "--runtime-arg", "--debug", "--runtime-opt", "--tcp-established", "--restore", "/ckpt",
        ])
        let c = p.createOptions(providedStdio: [])
        XCTAssertEqual(c.bundle, "/b")
        XCTAssertEqual(c.pidFile, "/run/pid")
        XCTAssertEqual(c.log.drivers, [.k8sFile(path: "/b/ctr.log")])
        XCTAssertEqual(c.log.sizeMax, 1000)
        XCTAssertEqual(c.log.totalSizeMax, 9000)
        XCTAssertFalse(c.log.syncOnExit)
        XCTAssertTrue(c.log.reopenStartsOver)
        // conmon 2.2 keeps at least two rotated files.
        XCTAssertEqual(c.log.maxFiles, 2)
        XCTAssertEqual(c.log.containerName, "web")
        XCTAssertEqual(c.socketDir, "/sock")
        XCTAssertTrue(c.fullAttach)
        // The monitor writes the exit files and runs the exit command itself.
        XCTAssertNil(c.exitDir)
        XCTAssertEqual(c.exitCommand, [])
        XCTAssertEqual(p.exitCommand?.argv, ["/usr/bin/podman", "cleanup"])
        XCTAssertEqual(p.exitCommand?.delaySeconds, 2)
        XCTAssertTrue(c.stdin && c.leaveStdinOpen && c.noPivot && c.noNewKeyring)
        XCTAssertTrue(c.runtimeErrorsOnStderr && c.attachLinkStays)
        XCTAssertFalse(c.controlFIFOs)
        XCTAssertEqual(c.runtimePath, "/usr/bin/runc")
        XCTAssertEqual(c.runtimeGlobalArgs, ["--debug"])
        XCTAssertEqual(c.runtimeCreateArgs, ["--tcp-established"])
        XCTAssertEqual(c.cgroupManager, "systemd")
        XCTAssertEqual(c.cgroupParent, "")
        XCTAssertEqual(c.restore?.imagePath, "/ckpt")
        let config = p.shimConfig(stateDir: "/b/.state", keepFDs: [FileDescriptor(rawValue: 7)])
        XCTAssertEqual(config.containerID, "0123456789abcdef")
        XCTAssertEqual(config.runtime.paths, ["/usr/bin/runc"])
        XCTAssertTrue(config.runtime.asGiven)
        XCTAssertEqual(config.cgroupManager, "systemd")
        XCTAssertEqual(config.keepFDs, [FileDescriptor(rawValue: 7)])
        // -l none: nothing logged (not the core's default file).
        XCTAssertEqual(try plan(base + ["-l", "none"]).createOptions(providedStdio: []).log.drivers, [.none])
    }

    /// What conmon does around the runtime, as core options: it does not
    /// read config.json, its attach socket listens before the runtime runs
    /// and stays when it fails, clients are served once the runtime has
    /// returned (at once with a terminal), and no log record holds more
    /// than its 8 KiB read.
    func testCreateOptionsForConmonsWayAroundTheRuntime() throws {
        let c = try plan(base + ["-l", "none"]).createOptions(providedStdio: [])
        XCTAssertFalse(c.readBundleConfig)
        XCTAssertTrue(c.keepEndpointsAfterFailure)
        XCTAssertTrue(c.attachClientsWaitForProcess)
        XCTAssertEqual(c.log.recordLimit, 8192)
        XCTAssertFalse(try plan(base + ["-l", "none", "-t"]).createOptions(providedStdio: []).attachClientsWaitForProcess)
        XCTAssertEqual(ConmonFrontend.versionText, "conmon version 2.1.6\ncommit: unknown\n")
    }
}

/// conmon's exec mode in both of its APIs.
final class ExecPlanTests: XCTestCase {
    private let exec = ["--api-version", "1", "-c", "ctr0123456789", "-u", "sess0123456789", "-r", "/usr/bin/runc",
                        "-b", "/b/sess", "-p", "/b/sess/exec_pid", "--exit-dir", "/b/sess/exit", "--full-attach",
                        "-l", "none", "-e", "--exec-attach", "--exec-process-spec", "/b/sess/exec-process-1"]

    private func plan(_ arguments: [String]) throws -> MonitorPlan {
        var system = MonitorPlan.System()
        system.access = { _, _ in 0 }
        system.openLog = { _ in 0 }
        return try MonitorPlan(try ConmonCommandLine.options(arguments), workingDirectory: "/work", system: system)
    }

    func testExecOptionsFromPodmansCommandLine() throws {
        let p = try plan(exec + ["-t", "-i", "-T", "9", "--runtime-opt", "--cap", "--runtime-opt", "CAP_SYS_ADMIN"])
        XCTAssertEqual(p.mode, .exec)
        let e = p.execOptions(sessionID: "sess0123456789", stateDir: "/state")
        XCTAssertEqual(e.execID, "sess0123456789")
        XCTAssertEqual(e.processSpecPath, "/b/sess/exec-process-1")
        XCTAssertEqual(e.directory, "/b/sess")
        XCTAssertTrue(e.fullAttach && e.terminal && e.stdin && e.attachSocket)
        XCTAssertEqual(e.timeoutSeconds, 9)
        XCTAssertEqual(e.timeoutExitCode, -1)
        XCTAssertEqual(e.runtimeArgs, ["--cap", "CAP_SYS_ADMIN"])
        XCTAssertEqual(e.log?.drivers, [.none])
        // conmon leaves the socket of a failed exec; with -t its loop accepts
        // clients while runc exec runs.
        XCTAssertTrue(e.keepEndpointsAfterFailure)
        XCTAssertFalse(e.attachClientsWaitForProcess)
        XCTAssertTrue(try plan(exec).execOptions(sessionID: "s", stateDir: "/state").attachClientsWaitForProcess)
        // The adopted container's options: no --systemd-cgroup for exec.
        XCTAssertEqual(p.shimConfig(stateDir: "/s", keepFDs: []).cgroupManager, "cgroupfs")
    }

    /// CRI-O's legacy exec: no --api-version, no -u, no -b, output to -l.
    func testLegacyExecWithoutBundleLogsItsOutput() throws {
        let p = try plan(["-c", "ctr0123456789", "-r", "/usr/bin/runc", "-p", "/x/pid", "-e",
                          "--exec-process-spec", "/x/spec", "-l", "k8s-file:/x/exec.log"])
        XCTAssertNil(p.containerUUID)
        XCTAssertNil(p.bundle)
        let e = p.execOptions(sessionID: "exec-1", stateDir: "/state")
        XCTAssertFalse(e.attachSocket)
        XCTAssertEqual(e.directory, "/state/exec")
        XCTAssertEqual(e.log?.drivers, [.k8sFile(path: "/x/exec.log")])
    }
}

/// The sync pipe's lines, as conmon writes them, with each API's key.
final class SyncLineTests: XCTestCase {
    func testConmonFormat() throws {
        XCTAssertEqual(String(decoding: ParentPipes.line(data: 4242, message: nil), as: UTF8.self), "{\"data\": 4242}\n")
        XCTAssertEqual(String(decoding: ParentPipes.line(data: -1, message: "no \"such\"\nfile"), as: UTF8.self),
                       "{\"data\": -1, \"message\": \"no \\\"such\\\"\\nfile\"}\n")
        XCTAssertEqual(String(decoding: ParentPipes.line(key: "pid", data: 7, message: ""), as: UTF8.self), "{\"pid\": 7}\n")
        XCTAssertEqual(String(decoding: ParentPipes.line(key: "exit_code", data: 3, message: nil), as: UTF8.self),
                       "{\"exit_code\": 3}\n")
        // Long messages are passed on whole, as conmon passes them.
        let long = ParentPipes.line(data: -1, message: String(repeating: "é", count: 5000))
        XCTAssertEqual(try JSONValue(parsing: long)["message"]?.stringValue?.count, 5000)
    }

    func testPipeVariablesAsConmonReadsThem() throws {
        XCTAssertNil(try ParentPipes.fd(from: "X") { _ in nil })
        XCTAssertThrowsError(try ParentPipes.fd(from: "_OCI_SYNCPIPE") { _ in "12abc" }) { error in
            XCTAssertEqual((error as? ConmonFailure)?.description, "[conmon:e]: unable to parse _OCI_SYNCPIPE Success")
        }
        XCTAssertThrowsError(try ParentPipes.fd(from: "_OCI_STARTPIPE") { _ in "987" }) { error in
            XCTAssertEqual((error as? ConmonFailure)?.description,
                           "[conmon:e]: unable to make _OCI_STARTPIPE CLOEXEC Bad file descriptor")
        }
    }
}
