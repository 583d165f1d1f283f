import Glibc
import ShimCore
import ShimSystem

/// The pipes an engine hands conmon through the environment (podman's
/// createOCIContainer and ExecContainer): SOCK_SEQPACKET socketpairs whose
/// fd numbers are in `_OCI_SYNCPIPE`, `_OCI_STARTPIPE`, `_OCI_ATTACHPIPE`.
/// conmon reads the start pipe's variable before it forks, the others in
/// the monitor.
public struct ParentPipes: Sendable {
    /// The monitor reports here: the pid, the exec exit code, or -1 and why.
    public var sync: Int32?
    /// The engine writes here when the monitor may go on (after moving it
    /// into a cgroup; for an exec attach, a second time once attached).
    public var start: Int32?
    /// With --exec-attach: the monitor reports here that the attach socket
    /// is listening.
    public var attach: Int32?
    /// The key of the number in each message (conmon's write_sync_fd):
    /// "data" with --api-version 1; in the legacy API "exit_code" for an
    /// exec and "pid" for a container.
    public var key = "data"

    public init(sync: Int32? = nil, start: Int32? = nil, attach: Int32? = nil) {
        self.sync = sync
        self.start = start
        self.attach = attach
    }

    public static func processVariable(_ name: String) -> String? {
        Glibc.getenv(name).map { String(cString: $0) }
    }

    /// conmon's get_pipe_fd_from_env: nil when unset; a value strtol does
    /// not take whole, or an fd that cannot be made close-on-exec, fails as
    /// conmon fails (with the errno it had: "Success" for a non-number).
    public static func fd(from variable: String, _ getenv: (String) -> String? = ParentPipes.processVariable)
        throws(ConmonFailure) -> Int32? {
        guard let text = getenv(variable) else { return nil }
        let bytes = Array(text.utf8)
        let parsed = CNumber.strtol(bytes, base: 10)
        guard let parsed, parsed.end == bytes.count, !parsed.overflow else {
            throw .pexitf("unable to parse \(variable)", errno: parsed?.overflow == true ? ERANGE : 0)
        }
        let fd = Int32(truncatingIfNeeded: parsed.value)
        guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
            throw .pexitf("unable to make \(variable) CLOEXEC")
        }
        return fd
    }

    /// The numbers the variables name, whatever they turn out to be: not
    /// among the engine's fds the monitor holds for the container.
    static func namedFDs() -> [Int32] {
        ["_OCI_SYNCPIPE", "_OCI_STARTPIPE", "_OCI_ATTACHPIPE"].compactMap { processVariable($0).flatMap { Int32($0) } }
    }

    /// Blocks until the engine writes to the start pipe (or closes it).
    func waitForStart() throws(ConmonFailure) {
        guard let start else { return }
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(start, $0.baseAddress, $0.count) }
            if n >= 0 { return }
            if errno == EINTR { continue }
            throw .pexit("start-pipe read failed")
        }
    }

    /// One line of the protocol on the sync pipe; false if it could not be
    /// written (the engine is gone).
    @discardableResult
    public func report(_ data: Int64, message: String? = nil) -> Bool {
        guard let sync else { return false }
        return Self.write(Self.line(key: key, data: data, message: message), to: sync)
    }

    /// The attach pipe's "the socket is listening" message.
    @discardableResult
    public func reportAttachReady() -> Bool {
        guard let attach else { return false }
        return Self.write(Self.line(key: key, data: 0, message: nil), to: attach)
    }

    /// conmon's write_sync_fd format: `{"data": N}` or `{"data": N,
    /// "message": "..."}` and a newline, as one packet.
    public static func line(key: String = "data", data: Int64, message: String?) -> [UInt8] {
        var text = "{" + JSONValue.string(key).serialized + ": \(data)"
        if let message, !message.isEmpty {
            text += ", \"message\": " + JSONValue.string(message).serialized
        }
        text += "}\n"
        return Array(text.utf8)
    }

    private static func write(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
