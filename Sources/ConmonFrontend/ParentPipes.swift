import Glibc
import ShimCore
import ShimSystem

/// The pipes an engine hands conmon through the environment (podman's
/// createOCIContainer and ExecContainer): SOCK_SEQPACKET socketpairs whose
/// fd numbers are in `_OCI_SYNCPIPE`, `_OCI_STARTPIPE`, `_OCI_ATTACHPIPE`.
public struct ParentPipes: Sendable {
    /// The monitor reports here: the pid, the exec exit code, or -1 and why.
    public var sync: Int32?
    /// The engine writes here when the monitor may go on (after moving it
    /// into a cgroup; for an exec attach, a second time once attached).
    public var start: Int32?
    /// With --exec-attach: the monitor reports here that the attach socket
    /// is listening.
    public var attach: Int32?
    /// The key of the number in each message: "data" with --api-version 1;
    /// conmon's legacy API says "pid" for create.
    public var key = "data"

    public init(sync: Int32? = nil, start: Int32? = nil, attach: Int32? = nil) {
        self.sync = sync
        self.start = start
        self.attach = attach
    }

    /// Reads the variables, as conmon's get_pipe_fd_from_env: a variable that
    /// is not a number, or names no open fd, is an error. The fds become
    /// close-on-exec: no runtime or container inherits them.
    public static func fromEnvironment(_ getenv: (String) -> String? = ParentPipes.processVariable)
        throws(ConmonError) -> ParentPipes {
        ParentPipes(sync: try fd(from: "_OCI_SYNCPIPE", getenv),
                    start: try fd(from: "_OCI_STARTPIPE", getenv),
                    attach: try fd(from: "_OCI_ATTACHPIPE", getenv))
    }

    public static func processVariable(_ name: String) -> String? {
        Glibc.getenv(name).map { String(cString: $0) }
    }

    private static func fd(from variable: String, _ getenv: (String) -> String?) throws(ConmonError) -> Int32? {
        guard let text = getenv(variable) else { return nil }
        guard let fd = Int32(text), fd >= 0 else {
            throw ConmonError("unable to parse \(variable)=\"\(text)\": not a file descriptor number")
        }
        guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
            throw ConmonError("unable to make \(variable) (fd \(fd)) CLOEXEC: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Every pipe fd, for bookkeeping of inherited fds.
    public var fds: [Int32] { [sync, start, attach].compactMap { $0 } }

    /// Blocks until the engine writes to the start pipe (or closes it).
    /// Only before the event loop runs.
    public func waitForStart() throws(ConmonError) {
        guard let start else { return }
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(start, $0.baseAddress, $0.count) }
            if n >= 0 { return }
            if errno == EINTR { continue }
            throw ConmonError("start-pipe read failed: \(String(cString: strerror(errno)))")
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
    /// "message": "..."}` and a newline, as one packet. The engine reads a
    /// packet into a 4 KiB buffer, so a long message is cut to fit.
    public static func line(key: String = "data", data: Int64, message: String?) -> [UInt8] {
        var text = "{" + JSONValue.string(key).serialized + ": \(data)"
        if let message, !message.isEmpty {
            text += ", \"message\": " + JSONValue.string(truncated(message, maxBytes: 3072)).serialized
        }
        text += "}\n"
        return Array(text.utf8)
    }

    static func truncated(_ text: String, maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        var bytes = Array(text.utf8.prefix(maxBytes))
        // Back off to a character boundary (no continuation byte first).
        while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }
        if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self) + "..."
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
