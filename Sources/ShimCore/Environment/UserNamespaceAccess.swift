import Glibc
import ShimSystem

/// One line of a user namespace's uid_map or gid_map: `size` ids starting at
/// `containerID` inside are `hostID`... outside.
public struct IDMap: Sendable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }

    /// Whether `id` is one of the host ids this mapping covers. Computed in
    /// 64 bits: hostID + size may pass UInt32.max.
    func containsHostID(_ id: UInt32) -> Bool {
        UInt64(id) >= UInt64(hostID) && UInt64(id) < UInt64(hostID) + UInt64(size)
    }
}

/// What a container in its own user namespace needs from the host's
/// directories (podman's hasCurrentUserMapped and makeAccessible): when
/// the engine's user is not mapped into the container, the container's root
/// is a stranger to the run, tmp, static, rootfs and volume directories and
/// must at least be able to traverse them.
public enum UserNamespaceAccess {
    /// True when the container has no user namespace mappings, or when
    /// `euid` is one of the host uids they map. Only uids decide, as in the
    /// seed; the gid mappings only count for "no mappings at all".
    public static func hasCurrentUserMapped(uidMappings: [IDMap], gidMappings: [IDMap], euid: uid_t = geteuid()) -> Bool {
        if uidMappings.isEmpty && gidMappings.isEmpty { return true }
        return uidMappings.contains { $0.containsHostID(euid) }
    }

    /// The host uid and gid that are root in the container (ctr.RootUID and
    /// ctr.RootGID): the host id mapped to container id 0, or 0 when there is
    /// no such mapping.
    public static func rootIDs(uidMappings: [IDMap], gidMappings: [IDMap]) -> (uid: uid_t, gid: gid_t) {
        let uid = uidMappings.first { $0.containerID == 0 && $0.size > 0 }?.hostID ?? 0
        let gid = gidMappings.first { $0.containerID == 0 && $0.size > 0 }?.hostID ?? 0
        return (uid, gid)
    }

    /// Makes `path` and every directory above it, up to but not including
    /// "/", traversable by everyone (adds --x--x--x) unless it already is or
    /// is owned by uid:gid (their owner needs no help). A path that does not
    /// exist, or "", is left alone: the directory may be created later by
    /// someone who already gives the right modes.
    public static func makeAccessible(_ path: String, uid: uid_t, gid: gid_t) throws(CoreError) {
        if path.isEmpty { return }
        var current = normalized(path)
        while current != "/" {
            var st = stat()
            if stat(current, &st) != 0 {
                let err = errno
                if err == ENOENT { return }
                throw CoreError(err == EACCES ? .permissionDenied : .internal,
                                "cannot make \(path) accessible to the container: stat \(current): \(String(cString: strerror(err)))")
            }
            if !(st.st_uid == uid && st.st_gid == gid) && st.st_mode & 0o111 != 0o111 {
                // Permission and set-id/sticky bits only: chmod(2) takes no file type.
                if chmod(current, (st.st_mode & 0o7777) | 0o111) != 0 {
                    let err = errno
                    throw CoreError(err == EPERM || err == EACCES ? .permissionDenied : .internal,
                                    "cannot make \(path) accessible to the container: chmod \(current): \(String(cString: strerror(err)))")
                }
            }
            current = parent(of: current)
        }
    }

    /// An absolute path without "//", "." or a trailing slash, so that
    /// walking up by dropping the last component ends at "/". ".." is kept
    /// as a component: resolving it lexically could skip a symlink's target.
    static func normalized(_ path: String) -> String {
        let parts = FileSystem.absolute(path).split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
