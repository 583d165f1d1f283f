import ConmonFrontend
import ShimCore
import ShimSystem
import XCTest

/// conmon's consistency checks (process_cli, configure_log_drivers) and the
/// mapping onto the core's CreateOptions.
final class MonitorPlanTests: XCTestCase {
    private func plan(_ arguments: [String], cwd: String = "/work") throws -> MonitorPlan {
        try MonitorPlan(try ConmonCommandLine.parse(arguments), workingDirectory: cwd)
    }

    private func assertPlanError(_ arguments: [String], _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try plan(arguments), line: line) { error in
            XCTAssertEqual((error as? ConmonError)?.message, expected, line: line)
        }
    }

    private let base = ["--api-version", "1", "-c", "0123456789abcdef", "-u", "0123456789abcdef", "-r", "/usr/bin/runc"]

    func testRequiredOptionsInConmonsOrderAndWords() {
        assertPlanError([], "Container ID not provided. Use --cid")
        assertPlanError(["-c", "x"], "Container UUID not provided. Use --cuuid")
        assertPlanError(["-c", "x", "-u", "x"], "Runtime path not provided. Use --runtime")
        assertPlanError(["-c", "x", "-u", "x", "-r", "/r"], "Log driver not provided. Use --log-path")
        assertPlanError(["-c", "x", "--log-level", "loud"], "No such log level loud")
        assertPlanError(base + ["--restore", "/x", "-e"], "Cannot use 'exec' and 'restore' at the same time")
        assertPlanError(base + ["--exec-attach"], "Attach can only be specified with exec")
        assertPlanError(["-c", "x", "-u", "x", "-r", "/r", "-e", "--exec-attach"],
                        "Attach can only be specified for a non-legacy exec session")
        assertPlanError(base + ["-e", "-l", "none"], "Exec process spec path not provided. Use --exec-process-spec")
        assertPlanError(base + ["--exit-delay", "-1", "-l", "none"],
                        "Delay before invoking exit command must be greater than or equal to 0")
        assertPlanError(base + ["--exit-command-arg", "x", "-l", "none"], "--exit-command-arg given without --exit-command")
    }

    func testLogDriversAsConmonParsesThem() throws {
        func drivers(_ specs: [String]) throws -> [LogDriverKind] {
            try plan(base + specs.flatMap { ["-l", $0] }).logDrivers
        }
        XCTAssertEqual(try drivers(["k8s-file:/l/ctr.log"]), [.k8sFile(path: "/l/ctr.log")])
        XCTAssertEqual(try drivers(["ctr.log"]), [.k8sFile(path: "/work/ctr.log")])
        XCTAssertEqual(try drivers([":/l/none"]), [.k8sFile(path: "/l/none")])
        XCTAssertEqual(try drivers(["journald", "none", "off", "null"]), [.journald(), .none, .none, .none])
        XCTAssertEqual(try drivers(["journald:ignored"]), [.journald()])
        XCTAssertTrue(try plan(base + ["-l", "passthrough"]).passthrough)
        assertPlanError(base + ["-l", "k8s-file"], "k8s-file requires a filename")
        assertPlanError(base + ["-l", "syslog:/x"], "No such log driver syslog")
        assertPlanError(base + ["-l", ""], "log-path must not be empty")
        assertPlanError(base + ["-l", "k8s-file:/x", "--log-tag", "t"], "k8s-file doesn't support --log-tag")
        XCTAssertNoThrow(try plan(base + ["-l", "k8s-file:/x", "-l", "journald", "--log-tag", "t"]))
        assertPlanError(["-c", "short", "-u", "short", "-r", "/r", "-l", "journald"],
                        "Container ID must be longer than 12 characters")
        assertPlanError(base + ["-l", "passthrough", "-t"], "cannot use a terminal (-t) with passthrough logging")
        assertPlanError(base + ["-l", "passthrough", "-l", "k8s-file:/x"],
                        "passthrough logging cannot be combined with another log driver")
    }

    func testDefaultsFromTheWorkingDirectory() throws {
        let p = try plan(base + ["-l", "none"], cwd: "/bundles/c1")
        XCTAssertEqual(p.bundle, "/bundles/c1")
        XCTAssertEqual(p.containerPidFile, "/bundles/c1/pidfile-0123456789abcdef")
        XCTAssertEqual(p.mode, .create)
        XCTAssertEqual(try plan(base + ["-l", "none", "--restore", "/ck"]).mode, .restore)
    }

    func testCreateOptionsCarryEveryOption() throws {
        let p = try plan(base + [
            "-b", "/b", "-p", "/run/pid", "-n", "web", "-l", "k8s-file:/b/ctr.log", "--log-size-max", "1000",
            "--exit-dir", "/exits", "--persist-dir", "/persist", "--socket-dir-path", "/sock", "--full-attach",
            "--exit-command", "/usr/bin/podman", "--exit-command-arg", "cleanup", "--exit-delay", "2",
            "-i", "--leave-stdin-open", "--no-pivot", "--no-new-keyring", "-s",
            "--runtime-arg", "--debug", "--runtime-opt", "--tcp-established", "--restore", "/ckpt",
        ])
        let c = p.createOptions(providedStdio: [])
        XCTAssertEqual(c.bundle, "/b")
        XCTAssertEqual(c.pidFile, "/run/pid")
        XCTAssertEqual(c.log.drivers, [.k8sFile(path: "/b/ctr.log")])
        XCTAssertEqual(c.log.sizeMax, 1000)
        XCTAssertEqual(c.log.containerName, "web")
        XCTAssertEqual(c.exitDir, "/exits")
        XCTAssertEqual(c.persistDir, "/persist")
        XCTAssertEqual(c.socketDir, "/sock")
        XCTAssertTrue(c.fullAttach)
        XCTAssertEqual(c.exitCommand, ["/usr/bin/podman", "cleanup"])
        XCTAssertEqual(c.exitDelaySeconds, 2)
        XCTAssertTrue(c.stdin && c.leaveStdinOpen && c.noPivot && c.noNewKeyring)
        XCTAssertEqual(c.runtimePath, "/usr/bin/runc")
        XCTAssertEqual(c.runtimeGlobalArgs, ["--debug"])
        XCTAssertEqual(c.runtimeCreateArgs, ["--tcp-established"])
        XCTAssertEqual(c.cgroupManager, "systemd")
        XCTAssertEqual(c.cgroupParent, "")
        XCTAssertEqual(c.restore?.imagePath, "/ckpt")
        let config = p.shimConfig(stateDir: "/b/.state", keepFDs: [7])
        XCTAssertEqual(config.containerID, "0123456789abcdef")
        XCTAssertEqual(config.runtime, RuntimeSelection("/usr/bin/runc"))
        XCTAssertEqual(config.cgroupManager, "systemd")
        XCTAssertEqual(config.keepFDs, [7])
    }
}

/// conmon's exec mode as podman 4.3 writes it.
final class ExecPlanTests: XCTestCase {
    private let exec = ["--api-version", "1", "-c", "ctr0123456789", "-u", "sess0123456789", "-r", "/usr/bin/runc",
                        "-b", "/b/sess", "-p", "/b/sess/exec_pid", "--exit-dir", "/b/sess/exit", "--full-attach",
                        "-l", "none", "-e", "--exec-attach", "--exec-process-spec", "/b/sess/exec-process-1"]

    private func plan(_ arguments: [String]) throws -> MonitorPlan {
        try MonitorPlan(try ConmonCommandLine.parse(arguments), workingDirectory: "/work")
    }

    func testExecOptionsFromPodmansCommandLine() throws {
        let p = try plan(exec + ["-t", "-i", "-T", "9", "--runtime-opt", "--cap", "--runtime-opt", "CAP_SYS_ADMIN"])
        XCTAssertEqual(p.mode, .exec)
        let e = p.execOptions()
        XCTAssertEqual(e.execID, "sess0123456789")
        XCTAssertEqual(e.processSpecPath, "/b/sess/exec-process-1")
        XCTAssertEqual(e.directory, "/b/sess")
        XCTAssertTrue(e.fullAttach && e.terminal && e.stdin)
        XCTAssertEqual(e.timeoutSeconds, 9)
        XCTAssertEqual(e.runtimeArgs, ["--cap", "CAP_SYS_ADMIN"])
        // The adopted container's options: no --systemd-cgroup for exec.
        XCTAssertEqual(p.shimConfig(stateDir: "/s", keepFDs: []).cgroupManager, "cgroupfs")
    }

    func testExecRefusals() {
        func refused(_ arguments: [String], _ message: String, line: UInt = #line) {
            XCTAssertThrowsError(try plan(arguments), line: line) { error in
                XCTAssertEqual((error as? ConmonError)?.message, message, line: line)
            }
        }
        var noBundle = exec
        noBundle.removeSubrange(noBundle.firstIndex(of: "-b")!...noBundle.firstIndex(of: "-b")! + 1)
        refused(noBundle, "exec without --bundle (no attach socket) is not supported by ocishim-conmon")
        var logged = exec
        logged[logged.firstIndex(of: "none")!] = "k8s-file:/b/sess/log"
        refused(logged, "an exec session's output is not logged by ocishim-conmon: use --log-path none with --exec")
        refused(exec + ["--runtime-opt", "--preserve-fds", "--runtime-opt", "2"],
                "--runtime-opt --preserve-fds is not supported by ocishim-conmon (inherited fds are not passed to the exec)")
    }
}

/// The sync pipe's lines, byte for byte as conmon writes them.
final class SyncLineTests: XCTestCase {
    func testConmonFormat() {
        XCTAssertEqual(String(decoding: ParentPipes.line(data: 4242, message: nil), as: UTF8.self), "{\"data\": 4242}\n")
        XCTAssertEqual(String(decoding: ParentPipes.line(data: -1, message: "no \"such\"\nfile"), as: UTF8.self),
                       "{\"data\": -1, \"message\": \"no \\\"such\\\"\\nfile\"}\n")
        XCTAssertEqual(String(decoding: ParentPipes.line(key: "pid", data: 7, message: ""), as: UTF8.self), "{\"pid\": 7}\n")
    }

    func testLongMessagesFitThePacketTheEngineReads() throws {
        let line = ParentPipes.line(data: -1, message: String(repeating: "é", count: 5000))
        XCTAssertLessThan(line.count, 4096)
        let object = try JSONValue(parsing: line)
        XCTAssertEqual(object["data"]?.intValue, -1)
        XCTAssertTrue(object["message"]?.stringValue?.hasSuffix("...") ?? false)
    }

    /// The engine gets a failed runtime's own text; podman classifies it.
    func testCoreErrorsGiveTheRuntimesOwnText() {
        let failed = CoreError(.runtimeFailed, "exec: \"nope\": not found: OCI runtime error",
                               runtimeMessage: "exec: \"nope\": not found")
        XCTAssertEqual(ConmonError(core: failed).message, "exec: \"nope\": not found")
        XCTAssertEqual(ConmonError(core: CoreError(.invalidArgument, "bad: OCI runtime error")).message, "bad: OCI runtime error")
    }
}
