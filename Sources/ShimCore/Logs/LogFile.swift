import Glibc
import ShimSystem
import SystemPackage

/// The file the k8s-file driver appends to, and the three ways of carrying
/// on at the same path:
///
/// - `reopen()`: someone else rotated the file (renamed it away, or copied
///   and truncated it); open whatever is at the path now, keeping its content.
/// - `startOver(keepingOldFiles: 0)`: conmon's size limit. As conmon does, a
///   new empty file is renamed over the path, so a reader still holding the
///   old file keeps its content and the path never goes missing. (conmon
///   names it `path.tmp`; here the name is random and created exclusively, so
///   a symlink planted at a predictable name cannot redirect the truncation.)
/// - `startOver(keepingOldFiles: N)`: rotation. path.1 ... path.N-1 move one up
///   (path.N, the oldest, is replaced), the current file becomes path.1, and
///   the new file takes the path, again by rename.
///
/// The file is opened O_APPEND, mode 0600 (conmon's mode), so an external
/// truncation cannot leave a hole before our next record. A symlink at the
/// path is not followed unless the engine asked for it (conmon follows), and
/// anything but a regular file is refused (opened without blocking, checked
/// on the fd): whoever can write into the log's directory cannot make the
/// shim write elsewhere or hang on a FIFO.
final class LogFile {
    let path: String
    /// nil once closed.
    private var fd: FileDescriptor?
    /// The file's size as far as this writer knows: what it had when opened
    /// plus what was appended since. `refreshSize()` asks the kernel again.
    private(set) var size: Int64
    /// A failed write left part of a record that could not be cut away: the
    /// next write starts with a newline so that the torn record stays a line
    /// of its own instead of running into the next one.
    private var needsLineBreak = false

    /// Whether a symlink at `path` is followed (conmon's behaviour, for an
    /// engine that asks for it) or refused.
    let followSymlinks: Bool
    /// New files get this mode (conmon 2.1.6: 0600, 2.2: 0640).
    private let mode: mode_t

    init(path: String, mode: mode_t = 0o600, followSymlinks: Bool = false) throws(SystemError) {
        self.path = path
        self.mode = mode
        self.followSymlinks = followSymlinks
        let opened = try Self.open(path, mode: mode, followSymlinks: followSymlinks)
        fd = opened
        size = Self.size(of: opened)
    }

    deinit { close() }

    /// Appends the batch; returns how far it got (see WriteVector.write).
    func append(_ batch: WriteVector) -> WriteVector.WriteResult {
        guard let fd else {
            batch.removeAll()
            return WriteVector.WriteResult(written: 0, error: .badFileDescriptor)
        }
        if needsLineBreak {
            var newline = UInt8(ascii: "\n")
            let n = Glibc.write(fd.rawValue, &newline, 1)
            if n != 1 {
                batch.removeAll()
                return WriteVector.WriteResult(written: 0, error: n < 0 ? .init(rawValue: errno) : .ioError)
            }
            size += 1
            needsLineBreak = false
        }
        let result = batch.write(to: fd)
        size += Int64(result.written)
        return result
    }

    /// Cuts the last `count` bytes off the file: the part of a record a
    /// failed write left behind (ENOSPC in the middle of a record).
    func removeTornTail(_ count: Int) {
        guard count > 0, let fd else { return }
        // Measure instead of trusting `size`: the file may have been
        // truncated from outside since we last looked.
        let actual = Self.size(of: fd)
        if actual >= Int64(count) && ftruncate(fd.rawValue, off_t(actual - Int64(count))) == 0 {
            size = actual - Int64(count)
        } else {
            needsLineBreak = true
        }
    }

    /// Re-reads the size: an external copy-and-truncate rotation shrinks the
    /// file without telling us.
    func refreshSize() {
        if let fd { size = Self.size(of: fd) }
    }

    func reopen() throws(SystemError) {
        let reopened = try Self.open(path, mode: mode, followSymlinks: followSymlinks)
        try? fd?.close()
        fd = reopened
        size = Self.size(of: reopened)
        needsLineBreak = false
    }

    func startOver(keepingOldFiles oldFiles: Int) throws(SystemError) {
        let (fresh, temporary) = try FileSystem.createTemporaryFile(besides: path, mode: mode, flags: O_APPEND)
        do throws(SystemError) {
            if oldFiles > 0 { try keepCurrentFile(asOneOf: oldFiles) }
            try sysCall("rename \(temporary) to \(path)") { rename(temporary, path) }
        } catch {
            try? fresh.close()
            unlink(temporary)
            throw error
        }
        try? fd?.close()
        fd = fresh
        size = 0
        needsLineBreak = false
    }

    /// Moves path.1 ... path.(N-1) one up and makes the current file path.1,
    /// hard-linked so that the path still has a file until the new one
    /// replaces it.
    private func keepCurrentFile(asOneOf oldFiles: Int) throws(SystemError) {
        for index in stride(from: oldFiles - 1, through: 1, by: -1) {
            let from = "\(path).\(index)", to = "\(path).\(index + 1)"
            if rename(from, to) != 0 && errno != ENOENT { throw SystemError("rename \(from) to \(to)") }
        }
        let newest = "\(path).1"
        if unlink(newest) != 0 && errno != ENOENT { throw SystemError("unlink \(newest)") }
        if link(path, newest) == 0 { return }
        // Renamed away by someone else: nothing left here to keep.
        if errno == ENOENT { return }
        // A file system without hard links: a plain rename, with a moment
        // in which the path is missing.
        try sysCall("rename \(path) to \(newest)") { rename(path, newest) }
    }

    func sync() {
        if let fd { _ = fsync(fd.rawValue) }
    }

    func close() {
        try? fd?.close()
        fd = nil
    }

    private static func open(_ path: String, mode: mode_t, followSymlinks: Bool) throws(SystemError) -> FileDescriptor {
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | (followSymlinks ? 0 : O_NOFOLLOW)
        let fd = Glibc.open(path, flags, mode)
        if fd < 0 {
            if errno == ELOOP {
                throw SystemError("open \(path)", errno: .tooManySymbolicLinkLevels, reason: "is a symlink, which the log does not follow")
            }
            if errno == ENXIO {  // a FIFO nobody reads (O_NONBLOCK's answer)
                throw SystemError("open \(path)", errno: .noSuchAddressOrDevice, reason: "not a regular file (a FIFO)")
            }
            throw SystemError("open \(path)")
        }
        var info = stat()
        if fstat(fd, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG {
            Glibc.close(fd)
            throw SystemError("open \(path)", errno: .invalidArgument,
                              reason: "not a regular file (\(FileSystem.fileTypeName(info.st_mode)))")
        }
        return FileDescriptor(rawValue: fd)
    }

    private static func size(of fd: FileDescriptor) -> Int64 {
        var info = stat()
        return fstat(fd.rawValue, &info) == 0 ? Int64(info.st_size) : 0
    }
}
