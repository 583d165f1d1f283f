import Foundation
import Glibc
import ShimSystem
import XCTest

/// Runs `ocishim-conmon` the way podman's createOCIContainer runs conmon:
/// SOCK_SEQPACKET socketpairs as fds 3 (sync) and 4 (start) named in
/// `_OCI_SYNCPIPE`/`_OCI_STARTPIPE`, a nonce byte on the start pipe, then
/// cmd.Wait() and one JSON line read from the sync pipe. runc keeps its state
/// under the test's own --root (passed with --runtime-arg, as podman passes
/// runtime flags), so teardown can remove everything it made.
final class ConmonHarness {
    let id: String
    let dir: String
    let runcRoot: String
    let exitDir: String
    let logPath: String
    let pidFile: String
    let conmonPidFile: String
    let stderrPath: String
    let stdoutPath: String
    let binary: String
    static let runc = "/usr/sbin/runc"

    init(_ test: XCTestCase) throws {
        id = "cm\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
        dir = try TestSupport.makeTemporaryDirectory(prefix: "ocishim-conmon-it", for: test)
        runcRoot = dir + "/runc"
        exitDir = dir + "/exits"
        logPath = dir + "/ctr.log"
        pidFile = dir + "/pidfile"
        conmonPidFile = dir + "/conmon.pid"
        stderrPath = dir + "/conmon.stderr"
        stdoutPath = dir + "/conmon.stdout"
        binary = try TestSupport.builtProduct("ocishim-conmon", environmentVariable: "OCISHIM_CONMON_BIN")
        // podman makes the exit dir; conmon only writes into it.
        try FileManager.default.createDirectory(atPath: exitDir, withIntermediateDirectories: true)
        let (id, runcRoot, dir) = (self.id, self.runcRoot, self.dir)
        test.addTeardownBlock {
            _ = try? TestSupport.run(Self.runc, ["--root", runcRoot, "delete", "--force", id])
            for pid in Self.processes(mentioning: dir) { kill(pid, SIGKILL) }
        }
    }

    /// podman's arguments for a container in `bundle` (sharedConmonArgs and
    /// createOCIContainer), plus `extra`.
    func podmanArguments(bundle: String, _ extra: [String] = []) -> [String] {
        ["--api-version", "1", "-c", id, "-u", id, "-r", Self.runc, "-b", bundle, "-p", pidFile,
         "-n", "it-\(id.prefix(6))", "--exit-dir", exitDir, "--full-attach", "-l", "k8s-file:\(logPath)",
         "--log-level", "debug", "--conmon-pidfile", conmonPidFile,
         "--runtime-arg", "--root", "--runtime-arg", runcRoot] + extra
    }

    struct Run {
        /// The status of the process podman started (cmd.Wait()).
        var status: Int32
        /// The first line on the sync pipe, parsed; nil if none came.
        var sync: [String: Any]?
        var syncFD: Int32
        var stderr: String
    }

    /// Starts ocishim-conmon with podman's pipes, writes the start byte,
    /// waits for the process (the monitor's parent without --sync), reads one
    /// sync message. `syncFD` stays open for further messages; close it.
    func start(_ arguments: [String], environment extra: [String] = [], writeStart: Bool = true,
               cwd: String? = nil, stdio: Int32? = nil, syncTimeout: Double = 60) throws -> Run {
        let sync = try Self.socketPair()
        let start = try Self.socketPair()
        let out = open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { for fd in [out, err, devnull, sync.child, start.child] { close(fd) } }
        // `extra` replaces a variable of the same name.
        var environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4"]
        for entry in extra {
            let key = entry.prefix { $0 != "=" }
            environment.removeAll { $0.hasPrefix(key + "=") }
            environment.append(entry)
        }
        var options = SpawnOptions(path: binary, arguments: [binary] + arguments, environment: environment,
                                   directory: cwd ?? dir)
        options.fds = SpawnOptions.fdTable([(0, stdio ?? devnull), (1, stdio ?? out), (2, err), (3, sync.child), (4, start.child)])
        options.newProcessGroup = true  // podman's Setpgid
        let pid = try Spawner.spawn(options)
        if writeStart {
            var nonce: UInt8 = 0
            _ = write(start.parent, &nonce, 1)
        }
        close(start.parent)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let message = Self.readPacket(sync.parent, timeoutSeconds: syncTimeout)
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return Run(status: Termination(waitStatus: status).exitCode, sync: message, syncFD: sync.parent, stderr: stderr)
    }

    /// One packet from a SOCK_SEQPACKET fd as a JSON object, within the time.
    static func readPacket(_ fd: Int32, timeoutSeconds: Double) -> [String: Any]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeoutSeconds * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0, buffer[n - 1] == UInt8(ascii: "\n") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(buffer[0..<n]))) as? [String: Any]
    }

    static func socketPair() throws -> (parent: Int32, child: Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw TestSupport.SupportError("socketpair: \(String(cString: strerror(errno)))")
        }
        return (fds[1], fds[0])
    }

    /// runc's containers under the test's root.
    func runtimeContainers() -> [String] {
        let (_, output) = (try? TestSupport.run(Self.runc, ["--root", runcRoot, "list", "-q"])) ?? (1, "")
        return output.split(separator: "\n").map(String.init)
    }

    func runc(_ arguments: [String]) throws -> Int32 {
        try TestSupport.run(Self.runc, ["--root", runcRoot] + arguments).status
    }

    var conmonPid: Int32? {
        (try? String(contentsOfFile: conmonPidFile, encoding: .utf8)).flatMap { Int32($0) }
    }

    /// Live processes whose command line mentions `text` (leak checks).
    static func processes(mentioning text: String) -> [Int32] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != me, ShimHarness.alive(pid),
                  let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
            return String(decoding: cmdline.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
        }
    }

    /// Polls `condition` for up to `seconds`.
    func eventually(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
        try TestSupport.eventually(seconds, condition)
    }

    /// The exit file conmon writes: `<exit-dir>/<id>`.
    var exitFile: String { exitDir + "/" + id }
}
