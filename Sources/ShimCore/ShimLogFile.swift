import Glibc
import ShimSystem
import SystemPackage

/// Where the shim's own messages go when they do not go to syslog: stderr
/// until the shim is up, then a file of its own (`<state-dir>/shim.log`).
/// A detached shim must let go of its spawner's stderr, or a spawner that
/// reads it (`out=$(ocictl create …)`, Go's exec.Cmd with a stderr pipe)
/// waits until the container is removed; conmon likewise stops using its
/// stdio once daemonized.
///
/// The file is bounded: past `limit` bytes it becomes `shim.log.1`
/// (replacing the previous one) and a new `shim.log` starts, so a chatty
/// shim keeps at most twice `limit` on disk, the newest messages included.
///
/// One instance for the process, used from the shim's one thread only
/// (hence @unchecked Sendable, which swift-log's handlers must be).
final class ShimLogOutput: @unchecked Sendable {
    static let shared = ShimLogOutput()

    /// Where messages go now; nil: nowhere (discarded).
    private var fd: FileDescriptor? = .standardError
    private var path: String?
    private var size = 0
    private var limit = 0

    func write(_ line: String) {
        guard let fd else { return }
        var bytes = Array(line.utf8)
        if let path, size + bytes.count > limit {
            rotate(path)
            if bytes.count > limit { bytes = Array(bytes.prefix(limit - 1)) + [UInt8(ascii: "\n")] }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }  // a full disk or a closed stderr: the message is dropped
            offset += n
        }
        size += offset
    }

    /// From now on, messages go to `path` (appended; created 0600). Throws
    /// if it cannot be opened, and stays on the current output then.
    func useFile(_ path: String, limit: Int) throws(SystemError) {
        let opened = try Self.open(path, truncate: false)
        var st = stat()
        let existing = fstat(opened.rawValue, &st) == 0 ? Int(st.st_size) : 0
        closeFile()
        fd = opened
        self.path = path
        self.size = existing
        self.limit = max(limit, 4096)
    }

    /// No more messages anywhere: the shim's files are being removed.
    func discard() {
        closeFile()
        fd = nil
        path = nil
    }

    /// What the Swift runtime itself writes to stderr (a fatal error's
    /// message and where it happened) goes to the log file too: fd 2 is the
    /// file. Returns false when no file is in use.
    @discardableResult
    func captureStandardError() -> Bool {
        guard path != nil, let fd else { return false }
        capturingStandardError = dup2(fd.rawValue, 2) == 2
        return capturingStandardError
    }

    private var capturingStandardError = false

    private func rotate(_ path: String) {
        closeFile()
        _ = rename(path, path + ".1")
        fd = try? Self.open(path, truncate: true)
        size = 0
        if capturingStandardError, let fd { _ = dup2(fd.rawValue, 2) }
    }

    private func closeFile() {
        if path != nil { try? fd?.close() }
    }

    private static func open(_ path: String, truncate: Bool) throws(SystemError) -> FileDescriptor {
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (truncate ? O_TRUNC : 0)
        let fd = Glibc.open(path, flags, 0o600)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        return FileDescriptor(rawValue: fd)
    }
}
