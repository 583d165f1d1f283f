import Glibc
import ShimSystem

/// The runtime options' `shim_cgroup`: the shim process joins that cgroup,
/// as containerd's runc shim puts itself there at `start` (cgroup v1: the
/// path in every hierarchy that has it; v2: the one unified tree).
enum ShimCgroup {
    static func place(pid: pid_t, optionsBytes: [UInt8]) throws {
        guard let options = try RuncOptions.decode(startInput: optionsBytes), !options.shimCgroup.isEmpty else { return }
        try place(pid: pid, cgroup: options.shimCgroup)
    }

    static func place(pid: pid_t, cgroup: String, root: String = "/sys/fs/cgroup") throws {
        let relative = cgroup.hasPrefix("/") ? String(cgroup.dropFirst()) : cgroup
        var targets: [String] = []
        if FileSystem.exists(FileSystem.join(root, "cgroup.controllers")) {
            targets = [FileSystem.join(root, relative)]
        } else {
            for hierarchy in (try? FileSystem.list(root)) ?? [] {
                let dir = FileSystem.join(root, hierarchy, relative)
                if FileSystem.isDirectory(dir) { targets.append(dir) }
            }
        }
        guard !targets.isEmpty else {
            throw ShimStart.Failure(description: "failed to load cgroup \(cgroup): no such cgroup under \(root)")
        }
        for dir in targets {
            let fd = open(FileSystem.join(dir, "cgroup.procs"), O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }  // a hierarchy without processes (e.g. a named one)
            let bytes = Array("\(pid)".utf8)
            let written = write(fd, bytes, bytes.count)
            let failure = written == bytes.count ? nil : SystemError("write \(dir)/cgroup.procs")
            close(fd)
            if let failure { throw ShimStart.Failure(description: "failed to join cgroup \(cgroup): \(failure)") }
        }
    }
}
