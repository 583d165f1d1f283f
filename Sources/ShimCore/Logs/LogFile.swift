import Glibc
import ShimSystem

/// The file the k8s-file driver appends to, and the three ways of carrying
/// on at the same path:
///
/// - `reopen()`: someone else rotated the file (renamed it away, or copied
///   and truncated it); open whatever is at the path now, keeping its content.
/// - `startOver(keepingOldFiles: 0)`: conmon's size limit. conmon writes a new
///   empty `path.tmp` and renames it over the path, so a reader still holding
///   the old file keeps its content and the path never goes missing.
/// - `startOver(keepingOldFiles: N)`: rotation. path.1 ... path.N-1 move one up
///   (path.N, the oldest, is replaced), the current file becomes path.1, and
///   the new file takes the path, again by rename.
///
/// The file is opened O_APPEND, mode 0600 (conmon's mode), so an external
/// truncation cannot leave a hole before our next record.
final class LogFile {
    let path: String
    private var fd: Int32
    /// The file's size as far as this writer knows: what it had when opened
    /// plus what was appended since. `refreshSize()` asks the kernel again.
    private(set) var size: Int64
    /// A failed write left part of a record that could not be cut away: the
    /// next write starts with a newline so that the torn record stays a line
    /// of its own instead of running into the next one.
    private var needsLineBreak = false

    init(path: String) throws(SystemError) {
        self.path = path
        fd = try Self.open(path, truncating: false)
        size = Self.size(of: fd)
    }

    deinit { close() }

    /// Appends the batch; returns how far it got (see WriteVector.write).
    func append(_ batch: WriteVector) -> WriteVector.WriteResult {
        if needsLineBreak {
            var newline = UInt8(ascii: "\n")
            let n = Glibc.write(fd, &newline, 1)
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
        guard count > 0 else { return }
        // Measure instead of trusting `size`: the file may have been
        // truncated from outside since we last looked.
        let actual = Self.size(of: fd)
        if actual >= Int64(count) && ftruncate(fd, off_t(actual - Int64(count))) == 0 {
            size = actual - Int64(count)
        } else {
            needsLineBreak = true
        }
    }

    /// Re-reads the size: an external copy-and-truncate rotation shrinks the
    /// file without telling us.
    func refreshSize() {
        size = Self.size(of: fd)
    }

    func reopen() throws(SystemError) {
        let reopened = try Self.open(path, truncating: false)
        Glibc.close(fd)
        fd = reopened
        size = Self.size(of: fd)
        needsLineBreak = false
    }

    func startOver(keepingOldFiles oldFiles: Int) throws(SystemError) {
        let temporary = path + ".tmp"
        let fresh = try Self.open(temporary, truncating: true)
        do throws(SystemError) {
            if oldFiles > 0 { try keepCurrentFile(asOneOf: oldFiles) }
            try sysCall("rename \(temporary) to \(path)") { rename(temporary, path) }
        } catch {
            Glibc.close(fresh)
            unlink(temporary)
            throw error
        }
        Glibc.close(fd)
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
        if fd >= 0 { _ = fsync(fd) }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private static func open(_ path: String, truncating: Bool) throws(SystemError) -> Int32 {
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (truncating ? O_TRUNC : 0)
        return try sysCall("open \(path)") { Glibc.open(path, flags, 0o600) }
    }

    private static func size(of fd: Int32) -> Int64 {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int64(info.st_size) : 0
    }
}
