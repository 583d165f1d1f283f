import CShimSys
import Glibc
import ShimSystem
import SystemPackage

/// The socket given to the runtime as --console-socket: the runtime connects
/// and sends the master side of the container's pseudo-terminal over
/// SCM_RIGHTS. The shim takes it after the runtime has finished: the fd waits
/// in the socket queue even after the runtime closed its end.
final class ConsoleSocket {
    let path: String
    private let listener: FileDescriptor
    private let temporaryDir: String?

    /// Listens in `dir`, or in a fresh directory under /tmp when `dir` would
    /// make the path longer than sun_path allows.
    init(preferredDir dir: String) throws(CoreError) {
        var chosen = FileSystem.join(dir, "console.sock")
        var tmp: String?
        if chosen.utf8.count > UnixSocket.maxPathLength {
            do {
                tmp = try TemporaryDirectory.make(prefix: "ocishim-console")
            } catch {
                throw .internal("cannot create a console socket directory: \(error)")
            }
            chosen = FileSystem.join(tmp!, "console.sock")
        }
        try? FileSystem.removeFile(chosen)
        do {
            listener = try UnixSocket.listen(path: chosen, type: Int32(SOCK_STREAM.rawValue), mode: 0o600, backlog: 1)
        } catch {
            if let tmp { try? FileSystem.removeTree(tmp) }
            throw .internal("cannot listen on console socket \(chosen): \(error)")
        }
        path = chosen
        temporaryDir = tmp
    }

    /// The pty master the runtime sent; fails if it sent none.
    func receiveMaster() throws(CoreError) -> FileDescriptor {
        let peer: FileDescriptor?
        do {
            peer = try UnixSocket.accept(listener)
        } catch {
            throw .internal("console socket: \(error)")
        }
        guard let peer else { throw .internal("the runtime did not connect to the console socket \(path)") }
        defer { try? peer.close() }
        // The peer was accepted non-blocking; its message is already queued.
        var byte = [UInt8](repeating: 0, count: 256)
        var fd: Int32 = -1
        let n = byte.withUnsafeMutableBytes { ocishim_recv_fd(peer.rawValue, $0.baseAddress, $0.count, &fd) }
        guard n >= 0, fd >= 0 else {
            throw .internal("the runtime sent no terminal over the console socket (\(n < 0 ? String(describing: SystemError("recvmsg")) : "no fd"))")
        }
        return FileDescriptor(rawValue: fd)
    }

    func close() {
        try? listener.close()
        try? FileSystem.removeFile(path)
        if let temporaryDir { try? FileSystem.removeTree(temporaryDir) }
    }
}
