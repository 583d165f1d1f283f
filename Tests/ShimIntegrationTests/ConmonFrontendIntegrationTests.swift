import Foundation
import Glibc
import ShimSystem
import XCTest

/// ocishim-conmon driven the way podman drives conmon, on real runc and a
/// busybox bundle: the pipes, the files, the monitor's life, bad input.
final class ConmonFrontendIntegrationTests: XCTestCase {
    // --- the create path -----------------------------------------------------------

    func testCreateReportsThePidAndMonitorsTheContainerToItsExit() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"])
        let marker = h.dir + "/exit-command-ran"
        let run = try h.start(h.podmanArguments(bundle: bundle.path, [
            "--exit-command", "/bin/sh", "--exit-command-arg", "-c",
            "--exit-command-arg", "echo \"$0 $1\" > \(marker)", "--exit-command-arg", "cleanup",
            "--exit-command-arg", h.id,
        ]))
        defer { close(run.syncFD) }
        XCTAssertEqual(run.status, 0, run.stderr)
        let pid = try XCTUnwrap(run.sync?["data"] as? Int, "sync message: \(String(describing: run.sync))")
        XCTAssertGreaterThan(pid, 0)
        XCTAssertEqual(run.sync?.count, 1)
        // The container's pid file and the monitor's: a live, detached monitor.
        XCTAssertEqual(try String(contentsOfFile: h.pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), "\(pid)")
        let monitor = try XCTUnwrap(h.conmonPid)
        XCTAssertTrue(ShimHarness.alive(monitor))
        XCTAssertEqual(getsid(monitor), monitor, "the monitor leads its own session")
        XCTAssertEqual(h.runtimeContainers(), [h.id])
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.exitFile), "no exit file before the container ran")

        // podman starts the container itself.
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: h.exitFile) }, "no exit file")
        XCTAssertEqual(try String(contentsOfFile: h.exitFile, encoding: .utf8), "3")
        let log = try String(contentsOfFile: h.logPath, encoding: .utf8)
        XCTAssertTrue(log.contains(" stdout F hello\n"), log)
        XCTAssertTrue(log.contains(" stderr F oops\n"), log)
        XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: marker) }, "the exit command did not run")
        XCTAssertEqual(try String(contentsOfFile: marker, encoding: .utf8), "cleanup \(h.id)\n")
        // The monitor waits for the exit command, then goes, and tidies up.
        XCTAssertTrue(h.eventually { !ShimHarness.alive(monitor) }, "the monitor outlived its container")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: bundle.path).filter { $0.hasPrefix(".ocishim") }
        XCTAssertEqual(leftovers, [])
        XCTAssertEqual(try h.runc(["delete", h.id]), 0)
    }

    /// --sync: the process started is the monitor; its exit status is the
    /// container's, and the exit is in the exit file before it ends.
    func testSyncModeExitsWithTheContainer() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "exit 5"])
        // The start byte, then the runtime start, from another thread: with
        // --sync the started process only returns once the container is done.
        let id = h.id, root = h.runcRoot
        let starter = Thread {
            for _ in 0..<500 {
                if (try? TestSupport.run(ConmonHarness.runc, ["--root", root, "start", id]))?.status == 0 { return }
                usleep(20_000)
            }
        }
        starter.start()
        let run = try h.start(h.podmanArguments(bundle: bundle.path, ["--sync"]))
        defer { close(run.syncFD) }
        XCTAssertEqual(run.status, 5, run.stderr)
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0)
        XCTAssertEqual(try String(contentsOfFile: h.exitFile, encoding: .utf8), "5")
        _ = try h.runc(["delete", h.id])
    }

    /// The engine moves the monitor into a cgroup before writing to the start
    /// pipe: nothing may be created until then.
    func testNothingHappensBeforeTheStartPipe() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        let sync = try ConmonHarness.socketPair()
        let start = try ConmonHarness.socketPair()
        defer { for fd in [sync.parent, start.parent] { close(fd) } }
        var options = SpawnOptions(path: h.binary, arguments: [h.binary] + h.podmanArguments(bundle: bundle.path),
                                   environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4"],
                                   directory: h.dir)
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devnull) }
        options.fds = SpawnOptions.fdTable([(0, devnull), (1, devnull), (2, devnull), (3, sync.child), (4, start.child)])
        options.newProcessGroup = true
        let pid = try Spawner.spawn(options)
        close(sync.child)
        close(start.child)
        usleep(500_000)
        XCTAssertTrue(ShimHarness.alive(pid), "ocishim-conmon went on without the start byte")
        XCTAssertEqual(h.runtimeContainers(), [])
        var nonce: UInt8 = 0
        _ = write(start.parent, &nonce, 1)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        XCTAssertGreaterThan(ConmonHarness.readPacket(sync.parent, timeoutSeconds: 60)?["data"] as? Int ?? 0, 0)
        XCTAssertEqual(h.runtimeContainers(), [h.id])
        _ = try h.runc(["delete", "--force", h.id])
    }

    /// SIGTERM to the monitor goes to the container, as conmon does; the
    /// exit is recorded as usual.
    func testTerminationSignalIsForwardedToTheContainer() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.05; done"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path))
        defer { close(run.syncFD) }
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        usleep(300_000)
        let monitor = try XCTUnwrap(h.conmonPid)
        kill(monitor, SIGTERM)
        XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: h.exitFile) })
        XCTAssertEqual(try String(contentsOfFile: h.exitFile, encoding: .utf8), "42")
        XCTAssertTrue(h.eventually { !ShimHarness.alive(monitor) })
        _ = try h.runc(["delete", h.id])
    }

    /// `-l passthrough`: the container writes straight to the monitor's
    /// stdout, and nothing is logged.
    func testPassthroughGivesTheContainerTheMonitorsStdio() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "echo straight-through"])
        let out = open(h.dir + "/passthrough.out", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(out) }
        var arguments = h.podmanArguments(bundle: bundle.path)
        arguments[arguments.firstIndex(of: "k8s-file:\(h.logPath)")!] = "passthrough"
        let run = try h.start(arguments, stdio: out)
        defer { close(run.syncFD) }
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: h.exitFile) })
        XCTAssertEqual(try String(contentsOfFile: h.dir + "/passthrough.out", encoding: .utf8), "straight-through\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.logPath))
        _ = try h.runc(["delete", h.id])
    }

    /// -T: the container is killed when the time is up, and its exit
    /// recorded as conmon records a timeout: -1.
    func testTimeoutKillsTheContainer() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sleep", "1000"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path, ["-T", "1"]))
        defer { close(run.syncFD) }
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        let started = Date()
        XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: h.exitFile) }, "not killed")
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.5)
        // conmon's exit file and status for a timed-out container: -1 (255).
        XCTAssertEqual(try String(contentsOfFile: h.exitFile, encoding: .utf8), "-1")
        let monitor = try XCTUnwrap(h.conmonPid)
        XCTAssertTrue(h.eventually { !ShimHarness.alive(monitor) })
        _ = try h.runc(["delete", h.id])
    }

    /// --exit-delay holds the exit command back; --persist-dir gets its own
    /// copy of the exit code.
    func testExitDelayAndPersistDir() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "exit 4"])
        let marker = h.dir + "/exit-command-ran"
        let persist = h.dir + "/persist"
        // podman makes it; conmon only writes into it.
        try FileManager.default.createDirectory(atPath: persist, withIntermediateDirectories: true)
        let run = try h.start(h.podmanArguments(bundle: bundle.path, [
            "--persist-dir", persist, "--exit-delay", "2",
            "--exit-command", "/bin/touch", "--exit-command-arg", marker,
        ]))
        defer { close(run.syncFD) }
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: h.exitFile) })
        XCTAssertEqual(try String(contentsOfFile: persist + "/exit", encoding: .utf8), "4")
        usleep(500_000)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the exit command did not wait for --exit-delay")
        let monitor = try XCTUnwrap(h.conmonPid)
        XCTAssertTrue(ShimHarness.alive(monitor), "the monitor left before its exit command")
        XCTAssertTrue(h.eventually(10) { FileManager.default.fileExists(atPath: marker) })
        XCTAssertTrue(h.eventually { !ShimHarness.alive(monitor) })
        _ = try h.runc(["delete", h.id])
    }

    /// --restore from a checkpoint that is not there: the runtime's refusal
    /// reaches the pipe and nothing is left (a real restore needs a working
    /// CRIU, which this machine's kernel does not give; see docs/PODMAN.md).
    func testRestoreFromMissingCheckpointFails() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path, ["--restore", h.dir + "/no-checkpoint", "--sync"]))
        defer { close(run.syncFD) }
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.sync?["data"] as? Int, -1)
        XCTAssertFalse((run.sync?["message"] as? String ?? "").isEmpty)
        XCTAssertEqual(h.runtimeContainers(), [])
        XCTAssertEqual(ConmonHarness.processes(mentioning: h.id), [])
    }

    func testVersionIsOnePodmanAccepts() throws {
        let h = try ConmonHarness(self)
        let (status, output) = try TestSupport.run(h.binary, ["--version"])
        XCTAssertEqual(status, 0)
        // podman's probeConmon: `^conmon version (\d+).(\d+).(\d+)`, >= 2.0.24.
        XCTAssertTrue(output.hasPrefix("conmon version 2.1."), output)
        // conmon's second line, as a conmon built without its git commit prints it.
        XCTAssertTrue(output.hasSuffix("\ncommit: unknown\n"), output)
    }

    // --- bad input, as stock conmon 2.1.6 answers it -------------------------------------

    /// A command line conmon refuses before it forks: the message on
    /// stderr in conmon's form, exit 1, nothing on the sync pipe (conmon
    /// reports only runtime failures there), nothing started or written.
    private func assertRefused(_ h: ConmonHarness, _ run: ConmonHarness.Run, stderr line: String,
                               file: StaticString = #filePath, line number: UInt = #line) {
        XCTAssertEqual(run.status, 1, file: file, line: number)
        XCTAssertEqual(run.stderr, line + "\n", file: file, line: number)
        XCTAssertNil(run.sync, "sync: \(String(describing: run.sync))", file: file, line: number)
        XCTAssertEqual(ConmonHarness.processes(mentioning: h.id), [], "a process was left behind", file: file, line: number)
        XCTAssertEqual(h.runtimeContainers(), [], "runtime state was left behind", file: file, line: number)
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.conmonPidFile), file: file, line: number)
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.exitFile), file: file, line: number)
    }

    func testMissingRequiredOptions() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        let full = h.podmanArguments(bundle: bundle.path)
        func without(_ option: String) -> [String] {
            var args = full
            let i = args.firstIndex(of: option)!
            args.removeSubrange(i...i + 1)
            return args
        }
        for (option, message) in [("-c", "conmon: Container ID not provided. Use --cid"),
                                  ("-u", "[conmon:e] Container UUID not provided. Use --cuuid"),
                                  ("-r", "[conmon:e] Runtime path not provided. Use --runtime"),
                                  ("-l", "[conmon:e] Log driver not provided. Use --log-path")] {
            let run = try h.start(without(option), syncTimeout: 0.5)
            defer { close(run.syncFD) }
            assertRefused(h, run, stderr: message)
        }
    }

    /// glib's words, on stdout, as conmon prints them.
    func testUnknownOptionAsGlibSaysIt() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path, ["--frobnicate"]), syncTimeout: 0.5)
        defer { close(run.syncFD) }
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(try String(contentsOfFile: h.stdoutPath, encoding: .utf8),
                       "conmon: option parsing failed: Unknown option --frobnicate\n")
        XCTAssertNil(run.sync)
        XCTAssertEqual(h.runtimeContainers(), [])
    }

    func testUnknownRuntimePath() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        var arguments = h.podmanArguments(bundle: bundle.path)
        arguments[arguments.firstIndex(of: ConmonHarness.runc)!] = "/nonexistent/runc"
        let run = try h.start(arguments, syncTimeout: 0.5)
        defer { close(run.syncFD) }
        assertRefused(h, run, stderr: "[conmon:e]: Runtime path /nonexistent/runc is not valid No such file or directory")
    }

    /// An exit dir that is not there: as conmon, the container runs and the
    /// monitor fails only when it writes the exit file (status 1), then runs
    /// the exit command all the same.
    func testMissingExitDirFailsAtTheExit() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "echo ran; exit 6"])
        let marker = h.dir + "/exit-command-ran"
        var arguments = h.podmanArguments(bundle: bundle.path, ["--exit-command", "/bin/touch", "--exit-command-arg", marker])
        arguments[arguments.firstIndex(of: h.exitDir)!] = h.dir + "/no-such-dir"
        let run = try h.start(arguments)
        defer { close(run.syncFD) }
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: marker) }, "the exit command did not run")
        XCTAssertTrue(try String(contentsOfFile: h.logPath, encoding: .utf8).contains(" stdout F ran\n"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.dir + "/no-such-dir"), "the monitor made the exit dir")
        _ = try h.runc(["delete", h.id])
    }

    /// The runtime refuses the container: its own stderr reaches the engine
    /// through the sync pipe (as conmon reads it), the runtime's state is
    /// removed, and the monitor exits 1.
    func testRuntimeFailureIsReportedAndLeavesNothing() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/no/such/binary"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path, ["--sync"]))
        defer { close(run.syncFD) }
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.sync?["data"] as? Int, -1)
        let message = run.sync?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("/no/such/binary") && message.contains("no such file or directory"), message)
        XCTAssertTrue(message.hasPrefix("time=\"") && message.contains(" level=error msg=\"runc create failed"),
                      "runc's own stderr, as conmon passes it on: \(message)")
        XCTAssertEqual(h.runtimeContainers(), [])
        XCTAssertEqual(ConmonHarness.processes(mentioning: h.id), [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.exitFile))
        // --sync: no monitor pid file, as conmon.
        XCTAssertFalse(FileManager.default.fileExists(atPath: h.conmonPidFile))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: bundle.path).filter { $0.hasPrefix(".ocishim") }
        XCTAssertEqual(leftovers, [])
    }

    /// podman (outside debug mode) points runc's JSON error log at its own
    /// file with --runtime-arg; runc then prints the bare error on stderr,
    /// which is what the pipe gets.
    func testRuntimeFailureWithTheEnginesRuntimeLog() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/no/such/binary"])
        let ociLog = h.dir + "/oci-log"
        let run = try h.start(h.podmanArguments(bundle: bundle.path, [
            "--runtime-arg", "--log-format=json", "--runtime-arg", "--log", "--runtime-arg=\(ociLog)", "--sync",
        ]))
        defer { close(run.syncFD) }
        XCTAssertEqual(run.sync?["data"] as? Int, -1)
        let message = run.sync?["message"] as? String ?? ""
        XCTAssertTrue(message.hasPrefix("runc create failed: ") && message.hasSuffix("no such file or directory\n"), message)
        XCTAssertTrue(FileManager.default.fileExists(atPath: ociLog), "runc did not write the engine's log")
        XCTAssertEqual(h.runtimeContainers(), [])
    }

    /// Without --sync the process podman waits for exits 0 once it has
    /// written the monitor's pid file (conmon writes it before the runtime
    /// runs); the failure arrives on the pipe.
    func testRuntimeFailureWithoutSyncArrivesOnThePipe() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/no/such/binary"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path))
        defer { close(run.syncFD) }
        XCTAssertEqual(run.status, 0)
        XCTAssertEqual(run.sync?["data"] as? Int, -1)
        XCTAssertTrue(h.eventually { ConmonHarness.processes(mentioning: h.id).isEmpty }, "the monitor stayed")
        XCTAssertEqual(h.runtimeContainers(), [])
        XCTAssertNotNil(h.conmonPid, "conmon writes -P before the runtime fails")
    }

    /// _OCI_SYNCPIPE is read by the monitor (after the fork), which still
    /// has the engine's stderr: conmon's message there, the monitor exits 1.
    func testBadPipeEnvironment() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path), environment: ["_OCI_SYNCPIPE=abc"], syncTimeout: 0.2)
        defer { close(run.syncFD) }
        XCTAssertEqual(run.status, 0)
        XCTAssertNil(run.sync)
        XCTAssertTrue(h.eventually {
            ((try? String(contentsOfFile: h.stderrPath, encoding: .utf8)) ?? "") == "[conmon:e]: unable to parse _OCI_SYNCPIPE Success\n"
        }, (try? String(contentsOfFile: h.stderrPath, encoding: .utf8)) ?? "")
        let monitor = try XCTUnwrap(h.conmonPid)
        XCTAssertTrue(h.eventually { !ShimHarness.alive(monitor) })
        XCTAssertEqual(h.runtimeContainers(), [])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: bundle.path).filter { $0.hasPrefix(".ocishim") }
        XCTAssertEqual(leftovers, [])
    }
}

/// conmon's attach socket served by ocishim-conmon.
final class ConmonFrontendAttachTests: XCTestCase {
    /// A client that connected before the container ran must get all of
    /// its output, even when the monitor only gets to run after the
    /// container has already exited (a loaded machine): the connection and
    /// the exit are then seen in the same loop turn.
    func testClientConnectedBeforeTheExitGetsTheOutputWhenTheMonitorIsLate() throws {
        for terminal in [false, true] {
            let h = try ConmonHarness(self)
            let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "echo early-bird"], terminal: terminal)
            let run = try h.start(h.podmanArguments(bundle: bundle.path, terminal ? ["-t"] : []))
            defer { close(run.syncFD) }
            XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
            let monitor = try XCTUnwrap(h.conmonPid)
            kill(monitor, SIGSTOP)
            let client = try UnixSocket.connect(path: bundle.path + "/attach", type: Int32(SOCK_SEQPACKET.rawValue)).rawValue
            defer { close(client) }
            XCTAssertEqual(try h.runc(["start", h.id]), 0)
            // The init has exited (a zombie of the stopped monitor).
            let pid = run.sync?["data"] as? Int ?? 0
            XCTAssertTrue(h.eventually {
                ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
            }, "the container did not exit")
            kill(monitor, SIGCONT)
            var received = ""
            var buffer = [UInt8](repeating: 0, count: 8193)
            while true {
                var poller = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 10_000) == 1 else { break }
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                received += String(decoding: buffer[1..<n], as: UTF8.self)
            }
            XCTAssertEqual(received.replacingOccurrences(of: "\r", with: ""), "early-bird\n", "terminal: \(terminal)")
            XCTAssertTrue(h.eventually { FileManager.default.fileExists(atPath: h.exitFile) })
            _ = try h.runc(["delete", h.id])
        }
    }

    /// Without --full-attach, as conmon: `<socket-dir-path>/<cuuid>` is a
    /// link to the bundle and the socket is reached through it; the ctl FIFO
    /// resizes the terminal; the link stays when the monitor exits.
    func testAttachThroughTheSocketDirLinkAndResizeThroughCtl() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sh", "-c", "stty size"], terminal: true)
        let socketDir = h.dir + "/sockets"
        try FileManager.default.createDirectory(atPath: socketDir, withIntermediateDirectories: true)
        let uuid = "uuid-" + h.id.prefix(8)
        var arguments = h.podmanArguments(bundle: bundle.path, ["-t", "--socket-dir-path", socketDir])
        arguments.removeAll { $0 == "--full-attach" }
        arguments[arguments.firstIndex(of: "-u")! + 1] = uuid
        let run = try h.start(arguments)
        defer { close(run.syncFD) }
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
        let link = socketDir + "/" + uuid
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), bundle.path)
        for fifo in ["ctl", "winsz"] {
            var st = stat()
            XCTAssertEqual(stat(bundle.path + "/" + fifo, &st), 0, "no \(fifo)")
            XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO, "\(fifo) is not a FIFO")
        }
        let client = try UnixSocket.connect(path: link + "/attach", type: Int32(SOCK_SEQPACKET.rawValue)).rawValue
        defer { close(client) }
        let ctl = open(bundle.path + "/ctl", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(ctl, 0)
        _ = "1 33 111\n".withCString { write(ctl, $0, strlen($0)) }
        close(ctl)
        usleep(200_000)
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        var received = ""
        var buffer = [UInt8](repeating: 0, count: 8193)
        while true {
            var poller = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 20_000) == 1 else { break }
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { break }
            received += String(decoding: buffer[1..<n], as: UTF8.self)
        }
        XCTAssertEqual(received.replacingOccurrences(of: "\r", with: ""), "33 111\n")
        let monitor = try XCTUnwrap(h.conmonPid)
        XCTAssertTrue(h.eventually { !ShimHarness.alive(monitor) })
        // conmon removes the socket (through the link) and leaves the link.
        XCTAssertFalse(FileManager.default.fileExists(atPath: bundle.path + "/attach"), "the attach socket stayed")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), bundle.path)
        _ = try h.runc(["delete", h.id])
    }
}
