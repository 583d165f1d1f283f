import CShimSys
import Glibc
import Logging
import ShimSystem
import SystemPackage

/// <state-dir>/shim.sock: where a restarted engine, or `ocictl`, finds the
/// shim again. Mode 0600, and every peer's uid is checked (SO_PEERCRED): a
/// client of another user is refused even if the file mode were loosened.
public final class SocketListener {
    public let path: String
    private let fd: FileDescriptor
    private let loop: EventLoop
    private let log: Logger
    private let allowedUID = geteuid()

    /// Takes over `path` (removing the socket of a dead shim) and listens.
    /// `accepted` gets each admitted peer's fd and a label for logs.
    public convenience init(path: String, loop: EventLoop, log: Logger, accepted: @escaping (FileDescriptor, String) -> Void) throws(SystemError) {
        try SocketListener.claim(path)
        let fd = try UnixSocket.listen(path: path, type: Int32(SOCK_STREAM.rawValue), mode: 0o600)
        try self.init(listening: fd, path: path, loop: loop, log: log, accepted: accepted)
    }

    /// Serves a socket that already listens at `path`, handed to the shim
    /// by whoever made it (containerd's `start` passes it as fd 3, systemd's
    /// socket activation as LISTEN_FDS do). The listener owns `fd`; `close`
    /// removes `path`.
    public init(listening fd: FileDescriptor, path: String, loop: EventLoop, log: Logger,
                accepted: @escaping (FileDescriptor, String) -> Void) throws(SystemError) {
        self.path = path
        self.fd = fd
        self.loop = loop
        self.log = log
        _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd.rawValue, F_SETFD, FD_CLOEXEC)
        do {
            try loop.watch(fd, .readable) { [unowned self] _ in self.acceptAll(accepted) }
        } catch {
            try? fd.close()
            throw error
        }
    }

    /// A socket file left by a shim that died is removed; one that answers
    /// belongs to a live shim, and two shims must not share a state dir.
    static func claim(_ path: String) throws(SystemError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw SystemError("\(path) exists and is not a socket", errno: .fileExists)
        }
        if let live = try? UnixSocket.connect(path: path, type: Int32(SOCK_STREAM.rawValue)) {
            try? live.close()
            throw SystemError("another shim is already serving \(path)", errno: .addressInUse)
        }
        try FileSystem.removeFile(path)
    }

    private func acceptAll(_ accepted: (FileDescriptor, String) -> Void) {
        while true {
            let peer: FileDescriptor?
            do {
                peer = try UnixSocket.accept(fd)
            } catch {
                log.warning("accept on \(path): \(error)")
                return
            }
            guard let peer else { return }
            var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
            guard ocishim_peer_cred(peer.rawValue, &pid, &uid, &gid) == 0 else {
                log.warning("refused a client on \(path): \(SystemError("SO_PEERCRED"))")
                try? peer.close()
                continue
            }
            guard uid == allowedUID else {
                log.warning("refused a client of uid \(uid) (pid \(pid)) on \(path): only uid \(allowedUID) may talk to this shim")
                try? peer.close()
                continue
            }
            accepted(peer, "socket client pid \(pid)")
        }
    }

    public func close() {
        loop.unwatch(fd)
        try? fd.close()
        try? FileSystem.removeFile(path)
    }
}
