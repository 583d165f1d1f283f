import Foundation
import Glibc
import ShimSystem

/// The write end of the pipe the signal handler writes to.
nonisolated(unsafe) private var interruptPipe: Int32 = -1

/// Everything the suite starts is undone here: processes (shims, engines),
/// runtime containers, mounts. Each check's leftovers are removed when the
/// check ends, pass or fail; whatever remains is removed when the worker
/// process ends, and by the supervisor process after it (`sweep`), also
/// when the worker was killed by SIGINT/SIGTERM/SIGHUP. Only what the suite
/// registered, or what carries its run token or work directory, is touched.
final class Cleanup: @unchecked Sendable {
    private let lock = NSLock()
    private var processes: [(pid: pid_t, started: UInt64)] = []
    private var containers: [String] = []
    private var mounts: [String] = []
    private var actions: [() -> Void] = []
    let runc: String
    let workDir: String
    let idPrefix: String

    init(runc: String, workDir: String, idPrefix: String) {
        self.runc = runc
        self.workDir = workDir
        self.idPrefix = idPrefix
    }

    /// A process to SIGKILL at cleanup, if by then that pid still names the
    /// same process (same start time): pids are reused.
    func process(_ pid: pid_t) {
        guard pid > 0, let started = ProcInfo.startTime(pid) else { return }
        locked { processes.append((pid, started)) }
    }
    func container(_ id: String) { locked { if !containers.contains(id) { containers.append(id) } } }
    func mount(_ path: String) { locked { mounts.append(path) } }
    /// Anything else to undo (a flipper thread to stop, a FIFO to unblock).
    func action(_ body: @escaping () -> Void) { locked { actions.append(body) } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Undoes everything registered so far, newest first.
    func run() {
        let (pids, ids, mountPoints, undo) = locked { () -> ([(pid: pid_t, started: UInt64)], [String], [String], [() -> Void]) in
            defer { processes = []; containers = []; mounts = []; actions = [] }
            return (processes, containers, mounts, actions)
        }
        for body in undo.reversed() { body() }
        for process in pids where ProcInfo.startTime(process.pid) == process.started { _ = kill(process.pid, SIGKILL) }
        // Shims the suite did not learn the pid of (a create killed mid-way)
        // still name the work directory in their command line.
        for pid in ProcInfo.pids(mentioning: workDir) { _ = kill(pid, SIGKILL) }
        for id in ids { runQuietly(runc, ["delete", "--force", id]) }
        for path in mountPoints.reversed() { _ = umount2(path, Int32(MNT_DETACH)) }
    }

    /// At the worker's exit: what was registered, then the sweep.
    func runFinal() {
        run()
        sweep()
    }

    private func runtimeContainers() -> [String] {
        let out = "\(workDir)/runc-list.out"
        runQuietly(runc, ["list", "-q"], output: out)
        defer { unlink(out) }
        return ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Runs a program and waits for that pid only.
    private func runQuietly(_ path: String, _ arguments: [String], output: String? = nil) {
        let fd = output.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) } ?? Commands.devNull
        defer { if fd != Commands.devNull && fd >= 0 { close(fd) } }
        var options = SpawnOptions(path: path, arguments: [path] + arguments, environment: ProcessEnvironment.current())
        options.fds = SpawnOptions.fdTable([(0, Commands.devNull), (1, fd), (2, fd)])
        guard let pid = try? Spawner.spawn(options) else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// What is left after the worker process has ended (or was killed):
    /// processes whose command line names the work directory (shims, ocictl),
    /// runtime containers with the run's token, mounts under the work
    /// directory. Safe to run when the worker's own cleanup did its job.
    func sweep() {
        for _ in 0..<5 {
            let pids = ProcInfo.pids(mentioning: workDir)
            if pids.isEmpty { break }
            for pid in pids { _ = kill(pid, SIGKILL) }
            usleep(100_000)
        }
        for id in runtimeContainers() where id.hasPrefix(idPrefix) { runQuietly(runc, ["delete", "--force", id]) }
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
            .filter { $0.hasPrefix(workDir + "/") }
        for path in mounts.sorted(by: { $0.count > $1.count }) { _ = umount2(path, Int32(MNT_DETACH)) }
    }

    /// Makes SIGINT, SIGTERM and SIGHUP write their number to a pipe (all a
    /// handler may do) and returns its read end. Spawned programs get the
    /// default dispositions back.
    static func signalPipe() -> Int32 {
        guard let pipe = try? Pipe.make() else { return -1 }
        interruptPipe = pipe.write.rawValue
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            var byte = UInt8(truncatingIfNeeded: signal)
            _ = write(interruptPipe, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaction(sig, &action, nil) }
        return pipe.read.rawValue
    }
}
