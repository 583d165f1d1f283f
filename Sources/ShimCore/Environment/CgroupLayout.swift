import CShimSys
import Glibc
import ShimSystem

/// One mounted cgroup hierarchy.
public struct CgroupHierarchy: Sendable, Equatable {
    /// Where it is mounted ("/sys/fs/cgroup/memory", "/sys/fs/cgroup").
    public var mountPoint: String
    /// cgroup v1: the controllers bound to it ("cpu", "cpuacct") or its name
    /// ("name=systemd"). cgroup v2: empty; its controllers are per cgroup.
    public var controllers: [String]
    /// A cgroup2 (unified) hierarchy.
    public var isUnified: Bool

    public init(mountPoint: String, controllers: [String], isUnified: Bool) {
        self.mountPoint = mountPoint
        self.controllers = controllers
        self.isUnified = isUnified
    }
}

/// Which cgroup hierarchies this process sees, read from
/// /proc/self/mountinfo. The mount table, not a listing of /sys/fs/cgroup,
/// because it tells v1 from v2 per mount, names each v1 hierarchy's
/// controllers, shows co-mounted ones (cpu,cpuacct) once instead of once per
/// symlink, and finds hierarchies mounted somewhere else.
public struct CgroupLayout: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// No cgroup filesystem mounted.
        case none
        /// cgroup v1 only.
        case legacy
        /// v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified).
        case hybrid
        /// cgroup v2 only.
        case unified
    }

    public var hierarchies: [CgroupHierarchy]

    public init(hierarchies: [CgroupHierarchy]) {
        self.hierarchies = hierarchies
    }

    public var mode: Mode {
        let v1 = hierarchies.contains { !$0.isUnified }
        let v2 = hierarchies.contains { $0.isUnified }
        switch (v1, v2) {
        case (false, false): return .none
        case (true, false): return .legacy
        case (true, true): return .hybrid
        case (false, true): return .unified
        }
    }

    /// Whether `path` is a cgroup2 filesystem: /sys/fs/cgroup on a unified
    /// host (the check containerd/cgroups' Mode() and conmon make).
    public static func isCgroup2(_ path: String = "/sys/fs/cgroup") -> Bool {
        var fs = statfs()
        return statfs(path, &fs) == 0 && fs.f_type == 0x6367_7270  // CGROUP2_SUPER_MAGIC
    }

    /// The hierarchies of this process; empty when the mount table cannot be read.
    public static func current(mountInfo path: String = "/proc/self/mountinfo") -> CgroupLayout {
        guard let bytes = try? FileSystem.read(path) else { return CgroupLayout(hierarchies: []) }
        return parse(mountInfo: String(decoding: bytes, as: UTF8.self))
    }

    /// Mount options of a v1 cgroup mount that are not controllers.
    private static let nonControllerOptions: Set<String> = [
        "rw", "ro", "none", "noprefix", "xattr", "clone_children", "cpuset_v2_mode", "favordynmods",
    ]

    /// Parses mountinfo(5) lines:
    /// `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`.
    public static func parse(mountInfo: String) -> CgroupLayout {
        var hierarchies: [CgroupHierarchy] = []
        // The same hierarchy mounted twice (a bind mount) has one device id;
        // placing a process twice into one hierarchy would be pointless.
        var devices = Set<String>()
        for line in mountInfo.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let dash = fields.firstIndex(of: "-"), dash >= 6, fields.count >= dash + 3 else { continue }
            let fstype = fields[dash + 1]
            guard fstype == "cgroup" || fstype == "cgroup2" else { continue }
            guard devices.insert(String(fields[2])).inserted else { continue }
            let mountPoint = unescape(fields[4])
            if fstype == "cgroup2" {
                hierarchies.append(CgroupHierarchy(mountPoint: mountPoint, controllers: [], isUnified: true))
            } else {
                let controllers = fields[dash + 3].split(separator: ",").map(String.init).filter {
                    !nonControllerOptions.contains($0) && !$0.hasPrefix("release_agent=")
                }
                hierarchies.append(CgroupHierarchy(mountPoint: mountPoint, controllers: controllers, isUnified: false))
            }
        }
        return CgroupLayout(hierarchies: hierarchies)
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes ("\040").
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var out: [UInt8] = []
        let bytes = Array(field.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
               let value = octal(bytes[(i + 1)...(i + 3)]) {
                out.append(value)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}
