import CShimSys
import Glibc
import ShimSystem
import SystemPackage

/// conmon's --sdnotify-socket (src/conn_sock.c, setup_notify_socket): a
/// datagram socket at `<bundle>/notify/notify.sock` (the engine points the
/// container's NOTIFY_SOCKET at it) whose messages are passed on to the
/// host's socket as an OCI runtime would pass them: only "READY=1" or
/// "WATCHDOG=1", each alone; anything else is dropped. The socket file
/// stays when the monitor exits, as conmon leaves it.
final class SdNotifyRelay {
    private let socket: Int32
    private let host: Int32
    private var hostAddress = sockaddr_un()
    private let loop: EventLoop

    /// conmon's failures, with its words (the monitor still has the
    /// engine's stderr when it sets this up).
    init(bundle: String, hostSocket: String, loop: EventLoop) throws(ConmonFailure) {
        self.loop = loop
        host = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard host >= 0 else { throw .pexit("Failed to create notify socket") }
        hostAddress.sun_family = sa_family_t(AF_UNIX)
        Self.copy(hostSocket, into: &hostAddress)

        let parent = FileSystem.join(bundle, "notify")
        let parentFD = ocishim_open_dir_path(bundle)
        guard parentFD >= 0 else {
            close(host)
            throw .pexitf("failed to open socket path parent dir \(bundle)")
        }
        defer { close(parentFD) }
        let fullPath = FileSystem.join(parent, "notify.sock")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        Self.copy("/proc/self/fd/\(parentFD)/notify/notify.sock", into: &address)
        socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else {
            close(host)
            throw .pexitf("Failed to create socket \(fullPath)")
        }
        guard fchmod(socket, 0o777) == 0 else { throw fail(.pexitf("Failed to change socket permissions \(fullPath)")) }
        if unlink(fullPath) != 0 && errno != ENOENT {
            throw fail(.pexitf("Failed to remove existing socket: \(fullPath)"))
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw fail(.pexitf("Failed to bind socket: \(fullPath)")) }
        guard chmod(fullPath, 0o777) == 0 else { throw fail(.pexitf("Failed to change socket permissions \(fullPath)")) }
        do {
            try loop.watch(FileDescriptor(rawValue: socket), .readable) { [unowned self] _ in relay() }
        } catch {
            throw fail(.pexitf("Failed to bind socket: \(fullPath)", errno: EINVAL))
        }
    }

    private func fail(_ failure: ConmonFailure) -> ConmonFailure {
        close(socket)
        close(host)
        return failure
    }

    private static func copy(_ path: String, into address: inout sockaddr_un) {
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
    }

    private func relay() {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count - 1, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            let text = String(decoding: buffer[0..<n], as: UTF8.self)
            let message = text.contains("READY=1") ? "READY=1" : text.contains("WATCHDOG=1") ? "WATCHDOG=1" : nil
            guard let message else { continue }
            let sent = message.withCString { c in
                withUnsafePointer(to: &hostAddress) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(host, c, strlen(c), Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), $0,
                               socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            if sent < 0 { ConmonLog.nwarnf("Failed to write host notify socket") }
        }
    }

    func stop() {
        loop.unwatch(FileDescriptor(rawValue: socket))
        close(socket)
        close(host)
    }
}
