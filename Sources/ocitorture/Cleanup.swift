import Foundation
import Glibc
import ShimSystem

/// Everything the suite starts is undone here: processes (shims, engines),
/// runtime containers, mounts. Each check's leftovers are removed when the
/// check ends, pass or fail; whatever remains is removed at exit, and on
/// SIGINT/SIGTERM/SIGHUP by a thread that waits for those signals (they are
/// blocked everywhere else). Only what the suite registered, or what carries
/// its run token or work directory, is touched.
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

    /// At exit: also every runtime container whose id carries this run's token.
    func runFinal() {
        run()
        for id in runtimeContainers() where id.hasPrefix(idPrefix) { runQuietly(runc, ["delete", "--force", id]) }
    }

    private func runtimeContainers() -> [String] {
        let out = "\(workDir)/runc-list.out"
        runQuietly(runc, ["list", "-q"], output: out)
        defer { unlink(out) }
        return ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Runs a program and waits for that pid only (safe from the signal thread).
    private func runQuietly(_ path: String, _ arguments: [String], output: String? = nil) {
        let fd = output.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) } ?? Commands.devNull
        defer { if fd != Commands.devNull && fd >= 0 { close(fd) } }
        var options = SpawnOptions(path: path, arguments: [path] + arguments, environment: ProcessEnvironment.current())
        options.fds = [(0, Commands.devNull), (1, fd), (2, fd)]
        guard let pid = try? Spawner.spawn(options) else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and every thread
    /// started after it; spawned programs get a clean mask) and starts a
    /// thread that waits for them, cleans up and exits 130.
    func handleInterrupts(_ final: @escaping @Sendable () -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waitFor = set
        let watcher = Thread {
            var signal: Int32 = 0
            var waitSet = waitFor
            sigwait(&waitSet, &signal)
            FileHandle.standardError.write("\nocitorture: signal \(signal): cleaning up\n".data(using: .utf8)!)
            final()
            exit(130)
        }
        watcher.start()
    }
}
