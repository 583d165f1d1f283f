import ConmonFrontend
import ShimCore
import XCTest

/// conmon's command line as podman 4.3.1 writes it, and the glib parsing
/// rules the front end follows.
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
        let o = try ConmonCommandLine.parse(Self.podmanRun)
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
        let o = try ConmonCommandLine.parse([
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

    func testEveryListedOptionParses() throws {
        let o = try ConmonCommandLine.parse([
            "--api-version=1", "--cid=a", "--cuuid=b", "--name=n", "--runtime=/r", "--bundle=/b",
            "--container-pidfile=/p", "-P", "/cp", "-l", "journald", "-l", "none", "--log-tag", "t",
            "--persist-dir", "/pd", "--exit-delay", "5", "--leave-stdin-open", "--no-pivot", "--no-new-keyring",
            "-s", "--restore", "/ckpt", "--sync", "--restore-arg", "--tcp-established",
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
        XCTAssertTrue(try ConmonCommandLine.parse(["--version"]).version)
    }

    func testShortOptionForms() throws {
        let clustered = try ConmonCommandLine.parse(["-ti", "-cABC", "-u", "uuid"])
        XCTAssertTrue(clustered.terminal)
        XCTAssertTrue(clustered.stdin)
        XCTAssertEqual(clustered.containerID, "ABC")
        XCTAssertEqual(clustered.containerUUID, "uuid")
        // Repeated single-valued options: the last one wins (glib).
        XCTAssertEqual(try ConmonCommandLine.parse(["-c", "one", "--cid", "two"]).containerID, "two")
        // --api-version alone is the flag it is in conmon.
        XCTAssertEqual(try ConmonCommandLine.parse(["--api-version", "-c", "x"]).apiVersion, 1)
    }

    func testErrorsNameTheOption() {
        XCTAssertThrowsError(try ConmonCommandLine.parse(["--frobnicate"])) { error in
            XCTAssertEqual((error as? ConmonError)?.message, "unknown option --frobnicate")
        }
        XCTAssertThrowsError(try ConmonCommandLine.parse(["-Z"])) { error in
            XCTAssertEqual((error as? ConmonError)?.message, "unknown option -Z")
        }
        XCTAssertThrowsError(try ConmonCommandLine.parse(["--sdnotify-socket", "/x"])) { error in
            let message = (error as? ConmonError)?.message ?? ""
            XCTAssertTrue(message.hasPrefix("option --sdnotify-socket is not supported by ocishim-conmon"), message)
        }
        XCTAssertThrowsError(try ConmonCommandLine.parse(["-c"])) { error in
            XCTAssertEqual((error as? ConmonError)?.message, "missing value for option -c")
        }
        XCTAssertThrowsError(try ConmonCommandLine.parse(["--log-size-max", "big"])) { error in
            XCTAssertEqual((error as? ConmonError)?.message, "cannot parse integer value \"big\" for --log-size-max")
        }
        XCTAssertThrowsError(try ConmonCommandLine.parse(["-T", "99999999999"])) { error in
            XCTAssertEqual((error as? ConmonError)?.message, "cannot parse integer value \"99999999999\" for -T")
        }
        XCTAssertThrowsError(try ConmonCommandLine.parse(["--terminal=yes"])) { error in
            XCTAssertEqual((error as? ConmonError)?.message, "option --terminal does not take a value")
        }
        XCTAssertThrowsError(try ConmonCommandLine.parse(["-c", "x", "stray"])) { error in
            XCTAssertEqual((error as? ConmonError)?.message, "unexpected argument \"stray\" (conmon takes options only)")
        }
        for name in ["log-global-size-max", "no-sync-log", "seccomp-notify-socket", "seccomp-notify-plugins", "replace-listen-pid"] {
            XCTAssertThrowsError(try ConmonCommandLine.parse(["--\(name)"])) { error in
                XCTAssertTrue(((error as? ConmonError)?.message ?? "").contains("--\(name)"))
            }
        }
    }
}
