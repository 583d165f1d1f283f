import Foundation
import Glibc
import ShimSystem

/// Debian's conmon, launched as podman's createOCIContainer does: the shared
/// conmon arguments, `_OCI_SYNCPIPE` (fd 3) on which conmon answers
/// {"data": <pid>} once the runtime created the container, `_OCI_STARTPIPE`
/// (fd 4) written once the engine has placed conmon (in its cgroup; here:
/// at once). `runc start` is the engine's own call; the exit is recorded
/// when conmon writes <exit-dir>/<id>.
struct ConmonMonitor: Monitor {
    let name = "conmon"
    let conmon: String
    let runc: String

    func create(_ spec: ContainerSpec) throws -> MonitoredContainer {
        let exitDir = spec.dir + "/exits"
        let socketDir = spec.dir + "/sockets"
        for dir in [exitDir, socketDir] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let pidFile = spec.dir + "/pidfile"
        let conmonPidFile = spec.dir + "/conmon.pid"
        let args = [
            "--api-version", "1", "-c", spec.id, "-u", spec.id, "-r", runc, "-b", spec.bundle,
            "-p", pidFile, "-l", "k8s-file:\(spec.logPath)", "--exit-dir", exitDir,
            "--socket-dir-path", socketDir, "--log-level", "error", "--conmon-pidfile", conmonPidFile,
        ]
        let sync = try ShimSystem.Pipe.makeRaw()
        let startPipe = try ShimSystem.Pipe.makeRaw()
        defer {
            close(sync.read)
            close(startPipe.write)
        }
        let environment = Processes.environment.filter { !$0.hasPrefix("_OCI_") } + ["_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4"]
        let pid: pid_t
        do {
            pid = try Processes.spawn(conmon, args, fds: [(2, 2), (3, sync.write), (4, startPipe.read)],
                                      environment: environment, directory: spec.bundle)
        } catch {
            close(sync.write)
            close(startPipe.read)
            throw error
        }
        close(sync.write)
        close(startPipe.read)
        var zero: UInt8 = 0
        _ = write(startPipe.write, &zero, 1)
        // conmon's first process exits once its monitor runs (podman's cmd.Wait()).
        let (status, launcherCPU) = Processes.waitWithCPU(pid)
        guard status == 0 else { throw BenchError("conmon exited with \(Termination.describe(waitStatus: status))") }
        let answer = Self.readLine(sync.read)
        let container = ConmonContainer(id: spec.id, exitFile: exitDir + "/" + spec.id, logPath: spec.logPath, runc: runc)
        container.launcherCPUSeconds = launcherCPU
        container.monitorPid = pid_t((try? String(contentsOfFile: conmonPidFile, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        guard let containerPid = Self.syncData(answer), containerPid > 0 else {
            container.destroy()
            throw BenchError("conmon create \(spec.id) failed: \(answer)")
        }
        _ = containerPid
        return container
    }

    /// One line, as podman reads it (conmon keeps the pipe open afterwards).
    private static func readLine(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 4096 {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(byte)
            if byte == UInt8(ascii: "\n") { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The "data" of conmon's {"data": N} answer.
    private static func syncData(_ text: String) -> Int? {
        guard let line = text.split(separator: "\n").first,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object["data"] as? Int
    }
}

final class ConmonContainer: MonitoredContainer {
    let id: String
    let exitFile: String
    let logPath: String
    let runc: String
    var monitorPid: pid_t = 0
    var launcherCPUSeconds: Double = 0

    init(id: String, exitFile: String, logPath: String, runc: String) {
        self.id = id
        self.exitFile = exitFile
        self.logPath = logPath
        self.runc = runc
    }

    func start() throws {
        try Processes.run(runc, ["start", id])
    }

    func waitExitRecorded() throws {
        guard ExitFileWatch.wait(for: exitFile, seconds: 300) else {
            throw BenchError("conmon did not write \(exitFile)")
        }
    }

    func queryState(refresh: Bool) throws {
        try Processes.run(runc, ["state", id])
    }

    func disconnect() {}

    func connect() throws {}

    /// Set once `remove` has done its work: `destroy` has nothing left to do.
    private var removed = false

    func remove() throws {
        try Processes.run(runc, ["kill", id, "KILL"])
        try waitExitRecorded()
        try Processes.run(runc, ["delete", "--force", id])
        guard Processes.waitForExitKeepingZombie(monitorPid, seconds: 30) else {
            throw BenchError("conmon of \(id) (pid \(monitorPid)) did not exit after its container")
        }
        Processes.wait(monitorPid)
        removed = true
    }

    func destroy() {
        guard !removed else { return }
        _ = try? Processes.run(runc, ["delete", "--force", id], allowFailure: true)
        if monitorPid > 0 {
            if !Processes.waitForExitKeepingZombie(monitorPid, seconds: 10) { kill(monitorPid, SIGKILL) }
            Processes.wait(monitorPid)
        }
    }
}

/// Waits for a file to appear with inotify (no polling: the bench must not
/// take CPU from the monitor it measures).
enum ExitFileWatch {
    static func wait(for path: String, seconds: Double) -> Bool {
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { return pollFor(path, seconds: seconds) }
        defer { close(fd) }
        let dir = (path as NSString).deletingLastPathComponent
        guard inotify_add_watch(fd, dir, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO)) >= 0 else {
            return pollFor(path, seconds: seconds)
        }
        let deadline = Clock.monotonicNanos() + Int64(seconds * 1e9)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if isWritten(path) { return true }
            let left = (deadline - Clock.monotonicNanos()) / 1_000_000
            if left <= 0 { return false }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, Int32(min(left, 1000))) > 0 {
                _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            }
        }
    }

    private static func isWritten(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_size > 0
    }

    private static func pollFor(_ path: String, seconds: Double) -> Bool {
        let deadline = Clock.monotonicNanos() + Int64(seconds * 1e9)
        while Clock.monotonicNanos() < deadline {
            if isWritten(path) { return true }
            usleep(1_000)
        }
        return false
    }
}
