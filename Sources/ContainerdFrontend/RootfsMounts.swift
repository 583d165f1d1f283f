import Glibc
import ShimSystem

/// The rootfs mounts of a Create (containerd's snapshotter gives overlay or
/// bind mounts), mounted on `<bundle>/rootfs` before the runtime runs and
/// unmounted when the container goes, as containerd's runc shim does with
/// its mount package (mount/mount_linux.go: fstab-style options to flags and
/// data).
enum RootfsMounts {
    struct Mount: Equatable {
        var type: String
        var source: String
        var options: [String]
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Mounts each on `target` in order; on failure, what was mounted is
    /// unmounted again.
    static func mount(_ mounts: [Mount], on target: String) throws {
        guard !mounts.isEmpty else { return }
        if mkdir(target, 0o711) != 0 && errno != EEXIST {
            throw Failure(description: "mkdir \(target): \(SystemError("mkdir"))")
        }
        for (index, m) in mounts.enumerated() {
            do {
                try mountOne(m, on: target)
            } catch {
                if index > 0 { unmountAll(target) }
                throw Failure(description: "failed to mount rootfs component \(m.type) \(m.source): \(error)")
            }
        }
    }

    private static func mountOne(_ m: Mount, on target: String) throws {
        let parsed = parseOptions(m.options)
        var flags = parsed.flags
        let propagation = parsed.propagation
        // A read-only bind mount is a bind mount then a read-only remount.
        let bindReadOnly = flags & UInt(MS_BIND) != 0 && flags & UInt(MS_RDONLY) != 0
        if bindReadOnly { flags &= ~UInt(MS_RDONLY) }
        let type = m.type.isEmpty ? "none" : m.type
        if Glibc.mount(m.source, target, type, flags, parsed.data.isEmpty ? nil : parsed.data) != 0 {
            throw SystemError("mount")
        }
        if propagation != 0, Glibc.mount("", target, "", propagation, nil) != 0 {
            throw SystemError("mount propagation")
        }
        if bindReadOnly, Glibc.mount("", target, "", UInt(MS_REMOUNT | MS_BIND | MS_RDONLY) | (flags & UInt(MS_REC)), nil) != 0 {
            throw SystemError("remount read-only")
        }
    }

    /// containerd's parseMountOptions: known flags set or clear bits,
    /// propagation flags are applied by a second mount call, the rest is
    /// the filesystem's data, comma-joined.
    static func parseOptions(_ options: [String]) -> (flags: UInt, propagation: UInt, data: String) {
        let set: [String: UInt] = [
            "bind": UInt(MS_BIND), "defaults": 0, "dirsync": UInt(MS_DIRSYNC), "mand": UInt(MS_MANDLOCK),
            "noatime": UInt(MS_NOATIME), "nodev": UInt(MS_NODEV), "nodiratime": UInt(MS_NODIRATIME),
            "noexec": UInt(MS_NOEXEC), "nosuid": UInt(MS_NOSUID), "rbind": UInt(MS_BIND | MS_REC),
            "relatime": UInt(MS_RELATIME), "remount": UInt(MS_REMOUNT), "ro": UInt(MS_RDONLY),
            "strictatime": UInt(MS_STRICTATIME), "sync": UInt(MS_SYNCHRONOUS),
        ]
        let clear: [String: UInt] = [
            "async": UInt(MS_SYNCHRONOUS), "atime": UInt(MS_NOATIME), "dev": UInt(MS_NODEV),
            "diratime": UInt(MS_NODIRATIME), "exec": UInt(MS_NOEXEC), "nomand": UInt(MS_MANDLOCK),
            "norelatime": UInt(MS_RELATIME), "nostrictatime": UInt(MS_STRICTATIME), "rw": UInt(MS_RDONLY),
            "suid": UInt(MS_NOSUID),
        ]
        let propagationFlags: [String: UInt] = [
            "private": UInt(MS_PRIVATE), "rprivate": UInt(MS_PRIVATE | MS_REC),
            "shared": UInt(MS_SHARED), "rshared": UInt(MS_SHARED | MS_REC),
            "slave": UInt(MS_SLAVE), "rslave": UInt(MS_SLAVE | MS_REC),
            "unbindable": UInt(MS_UNBINDABLE), "runbindable": UInt(MS_UNBINDABLE | MS_REC),
        ]
        var flags: UInt = 0
        var propagation: UInt = 0
        var data: [String] = []
        for option in options {
            if let bits = set[option] {
                flags |= bits
            } else if let bits = clear[option] {
                flags &= ~bits
            } else if let bits = propagationFlags[option] {
                propagation |= bits
            } else {
                data.append(option)
            }
        }
        return (flags, propagation, data.joined(separator: ","))
    }

    /// Unmounts everything stacked on `target` (containerd's UnmountAll):
    /// until it is no mount point any more; a busy one is detached.
    static func unmountAll(_ target: String) {
        for _ in 0..<64 {
            if umount2(target, 0) == 0 { continue }
            switch errno {
            case EBUSY:
                if umount2(target, Int32(MNT_DETACH)) == 0 { continue }
                return
            case EINTR:
                continue
            default:
                return  // EINVAL: not a mount point (any more); ENOENT: gone.
            }
        }
    }
}
