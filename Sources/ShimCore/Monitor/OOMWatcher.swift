import CShimSys
import Glibc
import ShimSystem
import SystemPackage

/// Notices OOM kills in the container's memory cgroup, as conmon does:
/// cgroup v1 through an eventfd registered on memory.oom_control, cgroup v2
/// by watching memory.events for a changed "oom" counter.
final class OOMWatcher {
    private let loop: EventLoop
    private let onOOM: () -> Void
    /// The eventfd (v1) or inotify fd (v2) watched; nil when not watching.
    private var fd: FileDescriptor?
    private var oomControlFD: FileDescriptor?
    private var eventControlPath = ""
    private var memoryEventsPath = ""
    private var lastOOMCount: Int64 = 0

    /// Why watching is not possible, when it is not (logged by the caller).
    private(set) var unavailableReason: String?

    init(pid: pid_t, loop: EventLoop, onOOM: @escaping () -> Void) {
        self.loop = loop
        self.onOOM = onOOM
        if CgroupLayout.isCgroup2() {
            watchV2(pid: pid)
        } else {
            watchV1(pid: pid)
        }
    }

    /// The cgroup of `pid` for `controller` (v1) or its unified path (v2),
    /// from /proc/<pid>/cgroup.
    static func cgroupPath(pid: pid_t, controller: String?) -> String? {
        guard let text = try? FileSystem.readString("/proc/\(pid)/cgroup") else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if let controller {
                if parts[1].split(separator: ",").contains(Substring(controller)) {
                    return "/sys/fs/cgroup/\(controller)\(parts[2])"
                }
            } else if parts[0] == "0" && parts[1].isEmpty {
                return "/sys/fs/cgroup\(parts[2])"
            }
        }
        return nil
    }

    private func watchV1(pid: pid_t) {
        guard let cgroup = OOMWatcher.cgroupPath(pid: pid, controller: "memory") else {
            unavailableReason = "no memory cgroup for pid \(pid)"
            return
        }
        eventControlPath = "\(cgroup)/cgroup.event_control"
        let control = open(eventControlPath, O_WRONLY | O_CLOEXEC)
        guard control >= 0 else {
            unavailableReason = "\(SystemError("open \(eventControlPath)"))"
            return
        }
        defer { close(control) }
        let oomControl = open("\(cgroup)/memory.oom_control", O_RDONLY | O_CLOEXEC)
        guard oomControl >= 0 else {
            unavailableReason = "\(SystemError("open \(cgroup)/memory.oom_control"))"
            return
        }
        oomControlFD = FileDescriptor(rawValue: oomControl)
        let event = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        if event >= 0 { fd = FileDescriptor(rawValue: event) }
        let registration = "\(event) \(oomControl)"
        guard event >= 0, write(control, registration, registration.utf8.count) == registration.utf8.count else {
            unavailableReason = "\(SystemError("register OOM eventfd in \(eventControlPath)"))"
            stop()
            return
        }
        try? loop.watch(FileDescriptor(rawValue: event), .readable) { [unowned self] _ in self.v1Event() }
    }

    private func v1Event() {
        var count: UInt64 = 0
        guard let fd, read(fd.rawValue, &count, 8) == 8, count > 0 else { return }
        // The eventfd also fires once when the cgroup goes away: that alone
        // is not an OOM kill.
        if count == 1 && access(eventControlPath, F_OK) != 0 {
            stop()
            return
        }
        onOOM()
    }

    private func watchV2(pid: pid_t) {
        guard let cgroup = OOMWatcher.cgroupPath(pid: pid, controller: nil) else {
            unavailableReason = "no cgroup v2 path for pid \(pid)"
            return
        }
        memoryEventsPath = "\(cgroup)/memory.events"
        lastOOMCount = readOOMCount() ?? 0
        let inotify = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if inotify >= 0 { fd = FileDescriptor(rawValue: inotify) }
        guard inotify >= 0, inotify_add_watch(inotify, memoryEventsPath, UInt32(IN_MODIFY)) >= 0 else {
            unavailableReason = "\(SystemError("inotify \(memoryEventsPath)"))"
            stop()
            return
        }
        try? loop.watch(FileDescriptor(rawValue: inotify), .readable) { [unowned self] _ in
            var buf = [UInt8](repeating: 0, count: 4096)
            _ = buf.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            self.check()
        }
    }

    /// The "oom" counter of memory.events (cgroup v2).
    private func readOOMCount() -> Int64? {
        guard let text = try? FileSystem.readString(memoryEventsPath) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("oom ") {
            return Int64(line.dropFirst(4))
        }
        return nil
    }

    /// Checks for an OOM not yet reported (v2; also right before the exit is
    /// recorded, since inotify may lag the exit).
    func check() {
        guard !memoryEventsPath.isEmpty, let count = readOOMCount(), count != lastOOMCount else { return }
        lastOOMCount = count
        onOOM()
    }

    /// Delivers a pending v1 event before the exit is recorded.
    func flush() {
        if fd != nil && memoryEventsPath.isEmpty { v1Event() }
        check()
    }

    func stop() {
        if let fd {
            loop.unwatch(fd)
            try? fd.close()
            self.fd = nil
        }
        try? oomControlFD?.close()
        oomControlFD = nil
    }
}
