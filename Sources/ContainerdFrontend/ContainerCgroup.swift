import ContainerdProtocol
import Glibc
import ShimCore
import ShimSystem
import SwiftProtobuf

/// The container's cgroup for Stats, found as containerd's runc shim finds
/// it once the init has a pid (runtime/v2/runc/container.go): on a host
/// whose /sys/fs/cgroup is cgroup2 (containerd/cgroups Mode() Unified) its
/// unified cgroup, answered as `io.containerd.cgroups.v2.Metrics`; else
/// (legacy, or hybrid with v2 beside v1) its v1 hierarchies, answered as
/// `io.containerd.cgroups.v1.Metrics`.
enum ContainerCgroup {
    case v1(CgroupV1Metrics)
    case v2(CgroupV2Metrics)

    static let mountPoint = "/sys/fs/cgroup"

    /// nil when the process is gone or in no cgroup mounted here (Stats
    /// then answers "cgroup does not exist", as runc.v2 does).
    static func of(pid: Int32, procRoot: String = "/proc") -> ContainerCgroup? {
        guard let membership = try? FileSystem.readString("\(procRoot)/\(pid)/cgroup", limit: 1 << 16) else { return nil }
        if CgroupLayout.isCgroup2(mountPoint) {
            return CgroupV2Metrics.of(membership: membership, mountPoint: mountPoint).map { .v2($0) }
        }
        guard let mountinfo = try? FileSystem.readString("\(procRoot)/self/mountinfo", limit: 1 << 22) else { return nil }
        return CgroupV1Metrics.of(membership: membership, mountinfo: mountinfo).map { .v1($0) }
    }

    /// The metrics, packed as Stats answers them.
    func stats() throws -> Google_Protobuf_Any {
        switch self {
        case .v1(let cgroup): try TypeURL.pack(cgroup.read())
        case .v2(let cgroup): try TypeURL.pack(cgroup.read())
        }
    }
}
