import Foundation
import Glibc

/// Whether the host can hold the scale section's containers, checked before
/// it fills up: every limit a thousand runc containers, each with its own
/// monitor, run into first. Each check says what it found; the largest
/// size that fits them all is what the section runs.
struct HostLimits {
    /// Processes per container: its monitor and the container's init.
    static let processesPerContainer = 2
    /// Room kept free for the rest of the host (builds, other sessions)
    /// and the runtime calls in flight.
    static let spareProcesses = 2000

    var lines: [String] = []
    /// The most containers (per monitor at a time) every limit allows.
    var maxContainers = Int.max

    init(largest: Int, runc: String) {
        checkProcesses(largest)
        checkFDs(largest)
        checkRuntimeState(largest)
        checkMemory(largest)
        checkKeys(largest)
        checkInotify(largest)
    }

    private mutating func note(_ text: String, allows: Int? = nil) {
        lines.append(text)
        if let allows { maxContainers = min(maxContainers, max(0, allows)) }
    }

    private static func number(_ path: String) -> Int? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// pid_max, threads-max, RLIMIT_NPROC and the pids cgroup: a container
    /// costs its monitor and its init.
    private mutating func checkProcesses(_ largest: Int) {
        let running = ProcFS.allPids().count
        var limits: [(String, Int)] = []
        if let pidMax = Self.number("/proc/sys/kernel/pid_max") { limits.append(("kernel.pid_max", pidMax)) }
        if let threads = Self.number("/proc/sys/kernel/threads-max") { limits.append(("kernel.threads-max", threads)) }
        var nproc = rlimit()
        if getrlimit(Int32(__RLIMIT_NPROC.rawValue), &nproc) == 0, nproc.rlim_cur != rlim_t.max {
            limits.append(("RLIMIT_NPROC", Int(clamping: nproc.rlim_cur)))
        }
        if let pids = Self.pidsCgroupMax() { limits.append(("pids cgroup", pids)) }
        guard let (name, limit) = limits.min(by: { $0.1 < $1.1 }) else { return }
        let allows = (limit - running - Self.spareProcesses) / Self.processesPerContainer
        note("processes: \(running) running; the tightest limit is \(name) = \(limit); at \(Self.processesPerContainer) per container (monitor + init) and \(Self.spareProcesses) spare, room for \(allows) containers",
             allows: allows)
    }

    private static func pidsCgroupMax() -> Int? {
        for line in ((try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "").split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            let path = parts[1] == "pids" ? "/sys/fs/cgroup/pids\(parts[2])/pids.max"
                     : parts[1].isEmpty ? "/sys/fs/cgroup\(parts[2])/pids.max" : nil
            if let path, let max = number(path) { return max }
        }
        return nil
    }

    /// The engine holds a connection per ocishim container while it polls;
    /// the soft RLIMIT_NOFILE is raised to the hard one if that is short.
    private mutating func checkFDs(_ largest: Int) {
        var files = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0 else { return }
        let needed = rlim_t(largest + 256)
        if files.rlim_cur < needed && files.rlim_max >= needed {
            var raised = files
            raised.rlim_cur = min(files.rlim_max, needed * 2)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { files = raised }
        }
        let soft = Int(clamping: files.rlim_cur)
        note("fds: the engine's RLIMIT_NOFILE is \(soft) (one connection per container while polling)", allows: soft - 256)
        if let max = Self.number("/proc/sys/fs/file-max") {
            note("fds: fs.file-max = \(max) (each monitor holds about 20)", allows: max / 40)
        }
    }

    /// runc keeps a state.json (about 6 kB) per container under /run/runc.
    private mutating func checkRuntimeState(_ largest: Int) {
        var fs = statvfs()
        guard statvfs("/run", &fs) == 0 else { return }
        let freeKB = Int(fs.f_bavail) * Int(fs.f_frsize) / 1024
        let inodes = Int(fs.f_favail)
        let allows = min(freeKB / 16, inodes / 4)
        note("/run (runc's state): \(freeKB / 1024) MB and \(inodes) inodes free; at 16 kB and a few inodes per container, room for \(allows)", allows: allows)
    }

    /// A first guess; the ramp measures what each container really costs
    /// and stops early if the next size would not fit (ScaleBench).
    static let guessKBPerContainer = 4096.0

    private mutating func checkMemory(_ largest: Int) {
        let available = HostCensus.memAvailableKB()
        let allows = Int(available * 0.5 / Self.guessKBPerContainer)
        note("memory: \(Int(available / 1024)) MB available; at a guessed \(Int(Self.guessKBPerContainer / 1024)) MB per container (monitor, init, kernel objects) and half the memory kept free, room for \(allows)",
             allows: allows)
    }

    /// runc gives each container a session keyring (root's quota).
    private mutating func checkKeys(_ largest: Int) {
        guard let keys = Self.number("/proc/sys/kernel/keys/root_maxkeys") else { return }
        note("keys: kernel.keys.root_maxkeys = \(keys) (runc makes a session keyring per container)", allows: keys - 100)
    }

    /// On cgroup v2 both monitors watch memory.events with inotify: an
    /// instance per monitor, counted against the user's limit (default 128).
    private mutating func checkInotify(_ largest: Int) {
        let v2 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
        let instances = Self.number("/proc/sys/fs/inotify/max_user_instances") ?? 0
        if v2 {
            note("inotify: cgroup v2, one instance per monitor for OOM events; fs.inotify.max_user_instances = \(instances)"
                 + (instances < largest ? " (past it, a monitor cannot watch for OOM kills)" : ""))
        } else {
            note("inotify: cgroup v1 (OOM events through eventfd; fs.inotify.max_user_instances = \(instances) does not apply)")
        }
    }
}
