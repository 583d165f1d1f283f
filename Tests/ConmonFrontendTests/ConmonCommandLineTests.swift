import ConmonFrontend
import ShimCore
import XCTest

/// conmon's command line as podman 4.3.1 writes it, parsed by glib's rules
/// with glib's words (GOptionParser), as stock conmon 2.1.6 parses it.
final class ConmonCommandLineTests: XCTestCase {
    /// The argument list of a real `podman run` (from its "running conmon"
    /// debug line), shortened ids.
    static let podmanRun = [
        "--api-version", "1", "-c", "ad3ab71374cd", "-u", "ad3ab71374cd", "-r", "/usr/bin/runc",
        "-b", "/var/lib/c/userdata", "-p", "/run/c/userdata/pidfile", "-n", "zen_liskov",
        "--exit-dir", "/run/libpod/exits", "--full-attach", "-l", "k8s-file:/var/lib/c/userdata/ctr.log",
        "--log-level", "debug", "--syslog", "--conmon-pidfile", "/run/c/userdata/conmon.pid",
        "--exit-command", "/usr/bin/podman", "--exit-command-arg", "--root", "--exit-command-arg", "/var/lib/c",
        "--exit-command-arg", "--log-level", "--exit-command-arg", "debug",
        "--exit-command-arg", "container", "--exit-command-arg", "cleanup", "--exit-command-arg", "ad3ab71374cd",
        "--runtime-arg", "--log-format=json", "--runtime-arg", "--log", "--runtime-arg=/run/c/userdata/oci-log",
        "--log-size-max", "4096",
    ]

    func testPodmanRunCommandLine() throws {
        let o = try ConmonCommandLine.options(Self.podmanRun)
        XCTAssertEqual(o.apiVersion, 1)
        XCTAssertEqual(o.containerID, "ad3ab71374cd")
        XCTAssertEqual(o.containerUUID, "ad3ab71374cd")
        XCTAssertEqual(o.runtimePath, "/usr/bin/runc")
        XCTAssertEqual(o.bundle, "/var/lib/c/userdata")
        XCTAssertEqual(o.containerPidFile, "/run/c/userdata/pidfile")
        XCTAssertEqual(o.name, "zen_liskov")
        XCTAssertEqual(o.exitDir, "/run/libpod/exits")
        XCTAssertTrue(o.fullAttach)
        XCTAssertEqual(o.logDrivers, ["k8s-file:/var/lib/c/userdata/ctr.log"])
        XCTAssertEqual(o.logLevel, "debug")
        XCTAssertTrue(o.syslog)
        XCTAssertEqual(o.conmonPidFile, "/run/c/userdata/conmon.pid")
        XCTAssertEqual(o.exitCommand, "/usr/bin/podman")
        // Values starting with "-" are values, as glib takes them.
        XCTAssertEqual(o.exitCommandArgs, ["--root", "/var/lib/c", "--log-level", "debug", "container", "cleanup", "ad3ab71374cd"])
        XCTAssertEqual(o.runtimeArgs, ["--log-format=json", "--log", "/run/c/userdata/oci-log"])
        XCTAssertEqual(o.logSizeMax, 4096)
        XCTAssertFalse(o.terminal)
        XCTAssertFalse(o.sync)
    }

    func testExecCommandLine() throws {
        let o = try ConmonCommandLine.options([
            "--api-version", "1", "-c", "ctr", "-u", "session", "-r", "/usr/bin/runc", "-b", "/b/session",
            "-p", "/b/session/exec_pid", "-l", "k8s-file:/b/session/exec_log", "--exit-dir", "/b/session/exit",
            "--socket-dir-path", "/run/libpod/socket", "--runtime-opt", "--preserve-fds", "--runtime-opt", "2",
            "-t", "-i", "-e", "--exec-attach", "--exec-process-spec", "/b/session/exec-process-1", "-T", "30",
        ])
        XCTAssertTrue(o.exec)
        XCTAssertTrue(o.execAttach)
        XCTAssertTrue(o.terminal)
        XCTAssertTrue(o.stdin)
        XCTAssertEqual(o.execProcessSpec, "/b/session/exec-process-1")
        XCTAssertEqual(o.runtimeOpts, ["--preserve-fds", "2"])
        XCTAssertEqual(o.socketDirPath, "/run/libpod/socket")
        XCTAssertEqual(o.timeout, 30)
    }

    func testEveryOptionParses() throws {
        let o = try ConmonCommandLine.options([
            "--api-version=1", "--cid=a", "--cuuid=b", "--name=n", "--runtime=/r", "--bundle=/b",
            "--container-pidfile=/p", "-P", "/cp", "-l", "journald", "-l", "none", "--log-tag", "t",
            "--persist-dir", "/pd", "--exit-delay", "5", "--leave-stdin-open", "--no-pivot", "--no-new-keyring",
            "-s", "--restore", "/ckpt", "--sync", "--restore-arg", "--tcp-established",
            "--log-global-size-max", "4096", "--no-sync-log", "--sdnotify-socket", "/n.sock", "--replace-listen-pid",
            "--seccomp-notify-socket", "/s.sock", "--seccomp-notify-plugins", "p1",
            "--log-label", "A=b", "--log-rotate", "--log-max-files", "3", "--log-allowlist-dir", "/logs",
            "--no-container-partial-message",
        ])
        XCTAssertEqual(o.apiVersion, 1)
        XCTAssertEqual([o.containerID, o.containerUUID, o.name, o.runtimePath, o.bundle, o.containerPidFile, o.conmonPidFile],
                       ["a", "b", "n", "/r", "/b", "/p", "/cp"])
        XCTAssertEqual(o.logDrivers, ["journald", "none"])
        XCTAssertEqual(o.logTag, "t")
        XCTAssertEqual(o.persistDir, "/pd")
        XCTAssertEqual(o.exitDelay, 5)
        XCTAssertTrue(o.leaveStdinOpen && o.noPivot && o.noNewKeyring && o.systemdCgroup && o.sync)
        XCTAssertEqual(o.restorePath, "/ckpt")
        XCTAssertEqual(o.runtimeOpts, ["--tcp-established"])
        XCTAssertEqual(o.logGlobalSizeMax, 4096)
        XCTAssertTrue(o.noSyncLog && o.replaceListenPid && o.logRotate && o.noContainerPartialMessage)
        XCTAssertEqual(o.sdnotifySocket, "/n.sock")
        XCTAssertEqual(o.seccompNotifySocket, "/s.sock")
        XCTAssertEqual(o.seccompNotifyPlugins, "p1")
        XCTAssertEqual(o.logLabels, ["A=b"])
        XCTAssertEqual(o.logMaxFiles, 3)
        XCTAssertEqual(o.logAllowlistDirs, ["/logs"])
        XCTAssertTrue(try ConmonCommandLine.options(["--version"]).version)
    }

    /// glib: clusters of flags, one value per cluster taken from the next
    /// argument, the last of a single-valued option wins, a flag's "=value"
    /// ignored, non-options and everything after "--" left alone.
    func testGlibForms() throws {
        let clustered = try ConmonCommandLine.options(["-tic", "ABC", "-u", "uuid"])
        XCTAssertTrue(clustered.terminal && clustered.stdin)
        XCTAssertEqual(clustered.containerID, "ABC")
        XCTAssertEqual(clustered.containerUUID, "uuid")
        XCTAssertEqual(try ConmonCommandLine.options(["-c", "one", "--cid", "two"]).containerID, "two")
        XCTAssertEqual(try ConmonCommandLine.options(["--api-version", "1", "-c", "x"]).apiVersion, 1)
        XCTAssertEqual(try ConmonCommandLine.options(["--api-version=7"]).apiVersion, 1)
        let stray = try ConmonCommandLine.options(["stray", "-c", "x", "-", "--", "-u", "ignored"])
        XCTAssertEqual(stray.containerID, "x")
        XCTAssertNil(stray.containerUUID)
        XCTAssertEqual(try ConmonCommandLine.options(["--exit-command-arg", "--root"]).exitCommandArgs, ["--root"])
    }

    /// strtol(…, 0) as glib parses integers: blanks, sign, hex, octal.
    func testIntegersAsGlibParsesThem() throws {
        let o = try ConmonCommandLine.options(["-T", "0x30", "--exit-delay", "010", "--log-size-max", " +4096"])
        XCTAssertEqual(o.timeout, 48)
        XCTAssertEqual(o.exitDelay, 8)
        XCTAssertEqual(o.logSizeMax, 4096)
    }

    func testGlibsErrorWords() {
        func error(_ arguments: [String]) -> String? {
            do {
                _ = try ConmonCommandLine.parse(arguments)
                return nil
            } catch {
                return error.message
            }
        }
        XCTAssertEqual(error(["--frobnicate"]), "Unknown option --frobnicate")
        XCTAssertEqual(error(["--frobnicate=1"]), "Unknown option --frobnicate=1")
        XCTAssertEqual(error(["-xyz"]), "Unknown option -xyz")
        XCTAssertEqual(error(["-cABC"]), "Missing argument for -c")
        XCTAssertEqual(error(["-u", "x", "--cid"]), "Missing argument for --cid")
        XCTAssertEqual(error(["-cu", "a", "b"]), "Error parsing option -u")
        XCTAssertEqual(error(["--log-size-max", "big"]), "Cannot parse integer value “big” for --log-size-max")
        XCTAssertEqual(error(["-T", "5 "]), "Cannot parse integer value “5 ” for -T")
        XCTAssertEqual(error(["-T", "1.5"]), "Cannot parse integer value “1.5” for -T")
        XCTAssertEqual(error(["-T", "99999999999"]), "Integer value “99999999999” for -T out of range")
        XCTAssertEqual(error(["--log-size-max", "99999999999999999999"]),
                       "Integer value “99999999999999999999” for --log-size-max out of range")
        // The first error wins, help included.
        XCTAssertEqual(error(["--bogus", "--help"]), "Unknown option --bogus")
    }

    func testHelpAsGlibPrintsIt() throws {
        for arguments in [["--help"], ["-h"], ["-?"], ["--help-all"], ["-th"], ["--help", "--bogus"]] {
            guard case .help(let text) = try ConmonCommandLine.parse(arguments, programName: "conmon") else {
                return XCTFail("no help for \(arguments)")
            }
            XCTAssertTrue(text.hasPrefix("Usage:\n  conmon [OPTION…] - conmon utility\n\nHelp Options:\n"), text)
            XCTAssertTrue(text.contains("\n  -e, --exec                         Exec a command into a running container\n"), text)
            XCTAssertTrue(text.contains("  --log-rotate "), text)
            XCTAssertFalse(text.contains("--pidfile "), "hidden options stay hidden")
            XCTAssertTrue(text.hasSuffix("\n\n"))
        }
        XCTAssertEqual(ConmonCommandLine.programName("/usr/bin/ocishim-conmon"), "ocishim-conmon")
    }
}
