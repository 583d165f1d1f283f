import Foundation
import Glibc
import ShimSystem
import XCTest

/// ocishim-conmon's exec mode, driven as podman's ExecContainer drives
/// conmon: sync, start and attach pipes as fds 3, 4, 5; the attach pipe says
/// the socket listens; the engine connects, then writes the second start
/// message; the pid and later the exit code arrive on the sync pipe.
final class ConmonExecTests: XCTestCase {
    /// A running container (created through ocishim-conmon, started with
    /// runc) to exec in.
    private func runningContainer(_ h: ConmonHarness) throws -> BusyboxBundle {
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/sleep", "1000"])
        let run = try h.start(h.podmanArguments(bundle: bundle.path))
        close(run.syncFD)
        XCTAssertGreaterThan(run.sync?["data"] as? Int ?? 0, 0, run.stderr)
        XCTAssertEqual(try h.runc(["start", h.id]), 0)
        return bundle
    }

    private struct Session {
        let id: String
        let dir: String
        let spec: String
        var exitFile: String { dir + "/exit/" + containerID }
        let containerID: String
    }

    /// podman's exec bundle: a directory with an exit dir and the process
    /// spec (the container's process with other args).
    private func session(_ h: ConmonHarness, bundle: BusyboxBundle, args: [String]) throws -> Session {
        let id = "ex" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let dir = h.dir + "/" + id
        try FileManager.default.createDirectory(atPath: dir + "/exit", withIntermediateDirectories: true)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle.configPath))) as! [String: Any]
        var process = config["process"] as! [String: Any]
        process["args"] = args
        process["terminal"] = false
        let spec = dir + "/exec-process-1"
        try JSONSerialization.data(withJSONObject: process).write(to: URL(fileURLWithPath: spec))
        return Session(id: id, dir: dir, spec: spec, containerID: h.id)
    }

    private func execArguments(_ h: ConmonHarness, _ s: Session, _ extra: [String] = []) -> [String] {
        ["--api-version", "1", "-c", h.id, "-u", s.id, "-r", ConmonHarness.runc, "-b", s.dir,
         "-p", s.dir + "/exec_pid", "--exit-dir", s.dir + "/exit", "--full-attach", "-l", "none",
         "--log-level", "debug", "--runtime-arg", "--root", "--runtime-arg", h.runcRoot]
            + extra + ["-e", "--exec-attach", "--exec-process-spec", s.spec]
    }

    private struct Running {
        let pid: Int32
        let sync: Int32
        let start: Int32
        let attach: Int32
    }

    private func spawn(_ h: ConmonHarness, _ arguments: [String]) throws -> Running {
        let sync = try ConmonHarness.socketPair()
        let start = try ConmonHarness.socketPair()
        let attach = try ConmonHarness.socketPair()
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        let err = open(h.stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { for fd in [devnull, err, sync.child, start.child, attach.child] { close(fd) } }
        var options = SpawnOptions(path: h.binary, arguments: [h.binary] + arguments,
                                   environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "_OCI_SYNCPIPE=3",
                                                 "_OCI_STARTPIPE=4", "_OCI_ATTACHPIPE=5"],
                                   directory: h.dir)
        options.fds = SpawnOptions.fdTable([(0, devnull), (1, devnull), (2, err), (3, sync.child), (4, start.child), (5, attach.child)])
        options.newProcessGroup = true
        let pid = try Spawner.spawn(options)
        return Running(pid: pid, sync: sync.parent, start: start.parent, attach: attach.parent)
    }

    private func nonce(_ fd: Int32) {
        var byte: UInt8 = 0
        _ = write(fd, &byte, 1)
    }

    /// Output packets of conmon's attach socket until EOF: stream byte 2
    /// (stdout) or 3 (stderr), then data.
    private func readAttach(_ fd: Int32) -> (stdout: String, stderr: String) {
        var out = "", err = ""
        var buffer = [UInt8](repeating: 0, count: 8193)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 20_000) == 1 else { break }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            let text = String(decoding: buffer[1..<n], as: UTF8.self)
            if buffer[0] == 2 { out += text } else { err += text }
        }
        return (out, err)
    }

    func testExecAttachHandshakeStdinOutputAndExitCode() throws {
        let h = try ConmonHarness(self)
        let bundle = try runningContainer(h)
        let s = try session(h, bundle: bundle, args: ["/bin/sh", "-c", "echo exec-out; echo exec-err >&2; read line; echo got:$line; exit 7"])
        let r = try spawn(h, execArguments(h, s, ["-i"]))
        defer { for fd in [r.sync, r.start, r.attach] { close(fd) } }
        nonce(r.start)

        // 1: the socket listens; nothing runs before the second start message.
        let ready = ConmonHarness.readPacket(r.attach, timeoutSeconds: 60)
        XCTAssertEqual(ready?["data"] as? Int, 0, "attach pipe: \(String(describing: ready))")
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.dir + "/attach"), "no attach socket in the exec bundle")
        XCTAssertNil(ConmonHarness.readPacket(r.sync, timeoutSeconds: 0.3), "the exec started before the engine attached")

        // 2: attach, send stdin and its end, then let it start.
        let client = try UnixSocket.connect(path: s.dir + "/attach", type: Int32(SOCK_SEQPACKET.rawValue)).rawValue
        defer { close(client) }
        _ = "hello\n".withCString { write(client, $0, 6) }
        shutdown(client, Int32(SHUT_WR))
        nonce(r.start)
        var status: Int32 = 0
        waitpid(r.pid, &status, 0)
        XCTAssertEqual(Termination(waitStatus: status).exitCode, 0)

        let started = ConmonHarness.readPacket(r.sync, timeoutSeconds: 60)
        let pid = try XCTUnwrap(started?["data"] as? Int, "sync: \(String(describing: started))")
        XCTAssertGreaterThan(pid, 0)
        XCTAssertEqual(try String(contentsOfFile: s.dir + "/exec_pid", encoding: .utf8), "\(pid)")
        let output = readAttach(client)
        XCTAssertEqual(output.stdout, "exec-out\ngot:hello\n")
        XCTAssertEqual(output.stderr, "exec-err\n")
        let exited = ConmonHarness.readPacket(r.sync, timeoutSeconds: 60)
        XCTAssertEqual(exited?["data"] as? Int, 7, "sync: \(String(describing: exited))")
        XCTAssertNil(exited?["message"])
        XCTAssertEqual(try String(contentsOfFile: s.exitFile, encoding: .utf8), "7")
        // The monitor goes; the container stays; podman's files stay.
        XCTAssertTrue(h.eventually { ConmonHarness.processes(mentioning: s.id).isEmpty }, "the exec monitor stayed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.spec))
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.dir + "/attach"))
        let (_, state) = try TestSupport.run(ConmonHarness.runc, ["--root", h.runcRoot, "state", h.id])
        XCTAssertTrue(state.contains("\"running\""), state)
    }

    /// A client that reads slowly still gets every byte: the monitor stays
    /// until its attach clients have been sent the rest of the output.
    func testSlowAttachClientGetsAllOutputBeforeTheMonitorGoes() throws {
        let h = try ConmonHarness(self)
        let bundle = try runningContainer(h)
        let size = 2_000_000
        let s = try session(h, bundle: bundle, args: ["/bin/sh", "-c", "head -c \(size) /dev/zero | tr '\\0' x; exit 3"])
        let r = try spawn(h, execArguments(h, s))
        defer { for fd in [r.sync, r.start, r.attach] { close(fd) } }
        nonce(r.start)
        XCTAssertEqual(ConmonHarness.readPacket(r.attach, timeoutSeconds: 60)?["data"] as? Int, 0)
        let client = try UnixSocket.connect(path: s.dir + "/attach", type: Int32(SOCK_SEQPACKET.rawValue)).rawValue
        defer { close(client) }
        nonce(r.start)
        XCTAssertGreaterThan(ConmonHarness.readPacket(r.sync, timeoutSeconds: 60)?["data"] as? Int ?? 0, 0)
        // The process has long exited when the client starts reading.
        sleep(2)
        let output = readAttach(client)
        XCTAssertEqual(output.stdout.utf8.count, size)
        XCTAssertEqual(ConmonHarness.readPacket(r.sync, timeoutSeconds: 30)?["data"] as? Int, 3)
        var status: Int32 = 0
        waitpid(r.pid, &status, 0)
    }

    func testExecTimeoutReportsCommandTimedOut() throws {
        let h = try ConmonHarness(self)
        let bundle = try runningContainer(h)
        let s = try session(h, bundle: bundle, args: ["/bin/sleep", "1000"])
        let r = try spawn(h, execArguments(h, s, ["-T", "1"]))
        defer { for fd in [r.sync, r.start, r.attach] { close(fd) } }
        nonce(r.start)
        XCTAssertEqual(ConmonHarness.readPacket(r.attach, timeoutSeconds: 60)?["data"] as? Int, 0)
        nonce(r.start)
        XCTAssertGreaterThan(ConmonHarness.readPacket(r.sync, timeoutSeconds: 60)?["data"] as? Int ?? 0, 0)
        let exited = ConmonHarness.readPacket(r.sync, timeoutSeconds: 30)
        XCTAssertEqual(exited?["data"] as? Int, -1)
        XCTAssertEqual(exited?["message"] as? String, "command timed out")
        XCTAssertEqual(try String(contentsOfFile: s.exitFile, encoding: .utf8), "-1")
        var status: Int32 = 0
        waitpid(r.pid, &status, 0)
    }

    /// The runtime refuses the exec: its text on the sync pipe, the
    /// container untouched, and, as conmon leaves them, the session's attach
    /// socket and FIFOs in its bundle. The engine's client, connected before
    /// runc exec ran, was never accepted (conmon serves its socket only once
    /// runc exec has returned): it is reset.
    func testExecOfAMissingBinaryFailsCleanly() throws {
        let h = try ConmonHarness(self)
        let bundle = try runningContainer(h)
        let s = try session(h, bundle: bundle, args: ["/no/such/binary"])
        let r = try spawn(h, execArguments(h, s))
        defer { for fd in [r.sync, r.start, r.attach] { close(fd) } }
        nonce(r.start)
        XCTAssertEqual(ConmonHarness.readPacket(r.attach, timeoutSeconds: 60)?["data"] as? Int, 0)
        let client = try UnixSocket.connect(path: s.dir + "/attach", type: Int32(SOCK_SEQPACKET.rawValue)).rawValue
        defer { close(client) }
        nonce(r.start)
        let failed = ConmonHarness.readPacket(r.sync, timeoutSeconds: 60)
        XCTAssertEqual(failed?["data"] as? Int, -1)
        let message = failed?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("/no/such/binary") && message.contains("no such file or directory"), message)
        XCTAssertTrue(h.eventually { ConmonHarness.processes(mentioning: s.id).isEmpty })
        var byte: UInt8 = 0
        XCTAssertEqual(recv(client, &byte, 1, 0), -1)
        XCTAssertEqual(errno, ECONNRESET, "the client's connection: \(String(cString: strerror(errno)))")
        for name in ["attach", "ctl", "winsz"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: s.dir + "/" + name), "\(name) was removed")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: s.dir + "/process.json"), "the core's own file stayed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: s.spec), "the engine's files must stay")
        let (_, state) = try TestSupport.run(ConmonHarness.runc, ["--root", h.runcRoot, "state", h.id])
        XCTAssertTrue(state.contains("\"running\""), state)
        var status: Int32 = 0
        waitpid(r.pid, &status, 0)
    }

    /// Exec in a container the runtime does not know: as conmon, the monitor
    /// asks nothing first (the attach socket is made and announced), and
    /// `runc exec`'s own error reaches the pipe.
    func testExecInAnUnknownContainer() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        let s = try session(h, bundle: bundle, args: ["/bin/true"])
        let r = try spawn(h, execArguments(h, s))
        defer { for fd in [r.sync, r.start, r.attach] { close(fd) } }
        nonce(r.start)
        XCTAssertEqual(ConmonHarness.readPacket(r.attach, timeoutSeconds: 30)?["data"] as? Int, 0)
        nonce(r.start)
        let failed = ConmonHarness.readPacket(r.sync, timeoutSeconds: 60)
        XCTAssertEqual(failed?["data"] as? Int, -1)
        let message = failed?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("exec failed: container does not exist"), message)
        XCTAssertTrue(h.eventually { ConmonHarness.processes(mentioning: s.id).isEmpty })
        var status: Int32 = 0
        waitpid(r.pid, &status, 0)
    }
}
