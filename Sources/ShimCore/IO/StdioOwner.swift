/// Who owns the container's ends of its stdio pipes. A pipe is mode 0600 and
/// belongs to the shim (root); a container process of another user (a user
/// namespace's root, or a non-root user) cannot then reopen its own stdio
/// by path (/dev/stdout, /proc/self/fd/1): containerd's runc shim fchowns
/// those ends to the runtime options' IoUid/IoGid for that reason
/// (go-runc NewPipeIO).
public struct StdioOwner: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }
}
