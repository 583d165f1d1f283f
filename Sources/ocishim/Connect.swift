import Glibc
import ShimSystem
import SystemPackage

/// `ocishim connect <state-dir>`: stdio <-> <state-dir>/shim.sock, for engines
/// that only know how to talk to a shim over a child's stdin/stdout.
struct Connect {
    static let spec = CommandSpec(
        name: "connect",
        abstract: "Bridge stdin/stdout to a running shim's socket.",
        discussion: """
            Reconnects to the shim serving <state-dir> after the engine that spawned it \
            went away. Ends when the shim closes the connection; EOF on stdin is passed \
            on as a half-close.
            """,
        positionals: ["state-dir"])

    /// The shim's state directory.
    var stateDir: String

    init(_ arguments: ParsedArguments) {
        stateDir = arguments.positionals[0]
    }

    func run() throws {
        let path = FileSystem.join(FileSystem.absolute(stateDir), "shim.sock")
        let sock: FileDescriptor
        do {
            sock = try UnixSocket.connect(path: path, type: Int32(SOCK_STREAM.rawValue))
        } catch {
            throw ShimStartError("no shim answers at \(path): \(error)")
        }
        signal(SIGPIPE, SIG_IGN)
        try bridge(sock)
    }

    private func bridge(_ sock: FileDescriptor) throws {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var stdinOpen = true
        while true {
            var fds = [pollfd(fd: sock.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stdinOpen ? 0 : -1, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                throw ShimStartError("poll: \(SystemError("poll"))")
            }
            if fds[0].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(sock.rawValue, $0.baseAddress, $0.count) }
                if n <= 0 { return }  // the shim closed: done
                try FileSystem.writeAll(fd: .standardOutput, Array(buffer[0..<n]), what: "stdout")
            }
            if stdinOpen && fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n <= 0 {
                    stdinOpen = false
                    shutdown(sock.rawValue, Int32(SHUT_WR))
                } else {
                    try FileSystem.writeAll(fd: sock, Array(buffer[0..<n]), what: "shim socket")
                }
            }
        }
    }
}
