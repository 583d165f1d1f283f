import CShimSys
import Glibc
import SystemPackage

/// A file rewritten whole, often (a shim's state.json: five times between
/// create and running), that readers must never see half-written: as
/// FileSystem.writeAtomically replaces one, but through a spare file kept
/// beside it. The new content goes into the spare, and the two names are
/// exchanged in one step (renameat2 RENAME_EXCHANGE), so the old content
/// becomes the next write's spare.
///
/// Why: every writeAtomically creates an inode and its rename frees the old
/// one. On ext4 without a journal (/run and /tmp on this project's CI
/// machine) every inode created after recent deletions costs a scan of the
/// recently freed ones (ext4's recently_deleted check), which made the
/// state writes the shim's largest kernel cost per container start. Here
/// only the first two writes create an inode, and none frees one.
///
/// A reader that opened the file and reads it only after two further writes
/// may see the spare being rewritten; readers that parse what they read
/// read again when it does not parse (ShimStateFile.read).
///
/// The spare is written only while it is one of the two inodes this writer
/// made (checked by fstat before anything is written); anything else at
/// that name (a planted symlink or link, a file of an earlier shim) is left
/// alone, and the writer falls back to writeAtomically for good.
public final class SwappedFile {
    public let path: String
    public let sparePath: String
    private let mode: mode_t
    /// (st_dev, st_ino) of the inodes this writer made: at most two. With
    /// two, one is at `path` and the other at the spare name; with fewer,
    /// the next write makes a new spare.
    private var own: [Identity] = []
    private var fallback = false

    public init(path: String, spareSuffix: String = ".spare", mode: mode_t = 0o600) {
        self.path = path
        self.sparePath = path + spareSuffix
        self.mode = mode
    }

    public func write(_ bytes: [UInt8]) throws(SystemError) {
        if !fallback, let (fd, identity) = openSpare() {
            // Written over the old content, then cut to length: a file cut
            // to zero length and written again is flushed to disk on close
            // by ext4 (its auto_da_alloc heuristic for programs that replace
            // files that way), which cost as much as the inode it saves.
            let written = (try? FileSystem.writeAll(fd: fd, bytes, what: sparePath)) != nil
                && ftruncate(fd.rawValue, off_t(bytes.count)) == 0
            let closed = (try? fd.close()) != nil
            if written && closed && install(identity) { return }
            // What the spare name now holds is not known to be ours.
            fallback = true
        }
        try FileSystem.writeAtomically(path, bytes, mode: mode)
    }

    private typealias Identity = (dev: UInt, ino: UInt)

    /// The spare opened for writing at its start, and which of `own` it is:
    /// a new file the first time (or two), afterwards one of `own`; nil
    /// when neither can be had.
    private func openSpare() -> (FileDescriptor, Identity)? {
        if own.count < 2 {
            let fd = open(sparePath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard fd >= 0 else { fallback = true; return nil }
            var info = stat()
            guard fstat(fd, &info) == 0 else { close(fd); unlink(sparePath); fallback = true; return nil }
            let identity = Self.identity(info)
            own.append(identity)
            return (FileDescriptor(rawValue: fd), identity)
        }
        let fd = open(sparePath, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { fallback = true; return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
              own.contains(where: { $0 == Self.identity(info) }) else {
            close(fd)
            fallback = true
            return nil
        }
        return (FileDescriptor(rawValue: fd), Self.identity(info))
    }

    private static func identity(_ info: stat) -> Identity { (UInt(info.st_dev), UInt(info.st_ino)) }

    /// Puts the written spare in place of `path`. The first write has no
    /// `path` of its own to exchange with: its spare is renamed over
    /// whatever is there (that file is not written, only unlinked, as
    /// writeAtomically would); so is every write on a file system that
    /// cannot exchange names.
    private func install(_ written: Identity) -> Bool {
        if own.count == 2, ocishim_rename_exchange(sparePath, path) == 0 { return true }
        guard rename(sparePath, path) == 0 else { return false }
        // The first write, or no exchange here: `path` is the file just
        // written, the only one of `own` left; the next write needs a new spare.
        own = [written]
        return true
    }
}
