import Glibc
import ShimSystem

/// The files the runtime writes its JSON log to (`--log FILE --log-format
/// json`), one per invocation in flight: `<state-dir>/runtime/runtime-N.json`,
/// each emptied before an invocation takes it and kept afterwards for the
/// next one. Shared by every RuntimeCommandLine of a shim.
///
/// Why kept: a file made and removed per invocation is an inode made and one
/// freed for every create, start, kill and exec; on ext4 without a journal
/// (this project's CI machine) each inode made after recent frees costs a
/// scan of them (ext4's recently_deleted check). Usually one file serves
/// the shim's whole life.
final class RuntimeLogFiles {
    let dir: String
    private var busy: [Bool] = []

    init(dir: String) { self.dir = dir }

    /// A free file, empty, for one invocation; `release` gives it back.
    func take() throws(SystemError) -> (slot: Int, path: String) {
        // Made again if a Delete removed it (a stat when it is there).
        try FileSystem.createDirectory(dir, mode: 0o700)
        let slot = busy.firstIndex(of: false) ?? busy.count
        if slot == busy.count { busy.append(false) }
        let path = FileSystem.join(dir, "runtime-\(slot + 1).json")
        try empty(path)
        busy[slot] = true
        return (slot, path)
    }

    func release(_ slot: Int) {
        if busy.indices.contains(slot) { busy[slot] = false }
    }

    /// Empties the previous invocation's log. Anything but a regular file at
    /// the name (the shim's own directory: nothing should be) is unlinked, so
    /// that the runtime, which opens the path with O_CREAT and follows
    /// symlinks, makes a new file instead of writing through it.
    private func empty(_ path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink \(path)") }
            return
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink \(path)") }
            return
        }
        if ftruncate(fd, 0) != 0 { throw SystemError("truncate \(path)") }
    }
}
