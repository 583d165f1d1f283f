import CShimSys
import Glibc
import SystemPackage

/// Path-level file operations with errors that name the path.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// A regular file, following symlinks (podman's `Mode().IsRegular()`).
    public static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public static func isExecutableFile(_ path: String) -> Bool {
        isRegularFile(path) && access(path, X_OK) == 0
    }

    /// Reads a whole regular file; nil when it does not exist. Safe on paths
    /// a container or a user controls: the open never blocks (a FIFO planted
    /// at the path fails instead of waiting for a writer), what was opened
    /// must be a regular file (checked on the open fd, not the path), and a
    /// file larger than `limit` is an error rather than silently cut short.
    /// `followSymlinks: false` refuses a symlink as the last component.
    public static func readIfExists(_ path: String, limit: Int = 64 << 20,
                                    followSymlinks: Bool = true) throws(SystemError) -> [UInt8]? {
        let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (followSymlinks ? 0 : O_NOFOLLOW)
        let fd = open(path, flags)
        if fd < 0 {
            if errno == ENOENT { return nil }
            if errno == ELOOP && !followSymlinks {
                throw SystemError("open \(path)", errno: .tooManySymbolicLinkLevels, reason: "is a symlink, which is not followed here")
            }
            throw SystemError("open \(path)")
        }
        defer { close(fd) }
        return try readRegularFile(fd: FileDescriptor(rawValue: fd), limit: limit, what: path)
    }

    public static func read(_ path: String, limit: Int = 64 << 20, followSymlinks: Bool = true) throws(SystemError) -> [UInt8] {
        guard let bytes = try readIfExists(path, limit: limit, followSymlinks: followSymlinks) else {
            throw SystemError("open \(path)", errno: .noSuchFileOrDirectory)
        }
        return bytes
    }

    public static func readString(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> String {
        String(decoding: try read(path, limit: limit), as: UTF8.self)
    }

    /// The content of an open fd that must be a regular file of at most
    /// `limit` bytes (procfs and cgroupfs files count as regular, with a
    /// size of 0 until read, hence the check after reading).
    public static func readRegularFile(fd: FileDescriptor, limit: Int, what: String) throws(SystemError) -> [UInt8] {
        var info = stat()
        try sysCall("fstat \(what)") { fstat(fd.rawValue, &info) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SystemError("read \(what)", errno: .invalidArgument,
                              reason: "not a regular file (\(fileTypeName(info.st_mode)))")
        }
        let bytes = try readAll(fd: fd, limit: limit + 1, what: what)
        guard bytes.count <= limit else {
            throw SystemError("read \(what)", errno: .fileTooLarge, reason: "larger than the \(limit) bytes allowed")
        }
        return bytes
    }

    /// "a FIFO", "a directory", ... for messages.
    public static func fileTypeName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFLNK: "a symlink"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "of unknown type"
        }
    }

    /// Reads until EOF or `limit` bytes from a blocking fd.
    public static func readAll(fd: FileDescriptor, limit: Int, what: String) throws(SystemError) -> [UInt8] {
        var out: [UInt8] = []
        // Not zeroed: read fills what is used (config.json, state files).
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 1)
        defer { chunk.deallocate() }
        while out.count < limit {
            let want = min(chunk.count, limit - out.count)
            let n = Glibc.read(fd.rawValue, chunk.baseAddress, want)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(what)")
            }
            if n == 0 { break }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
        return out
    }

    /// Writes all bytes to a blocking fd.
    public static func writeAll(fd: FileDescriptor, _ bytes: [UInt8], what: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write \(what)")
            }
            offset += n
        }
    }

    /// Replaces `path` atomically: a reader sees the old or the new content,
    /// never a partial file. The rename replaces whatever is at `path` (a
    /// planted symlink included) without following it.
    ///
    /// No fsync: what the shim writes this way (state.json, pid and exit
    /// files, a containerd shim's address) describes processes that do not
    /// outlive the machine, in a runtime directory (/run) that a reboot
    /// empties; readers need the rename's atomicity, not durability, as
    /// conmon writes its pid and exit files. An fsync per write cost every
    /// container four to five journal commits between create and running on
    /// a disk-backed /run, and concurrent creates queued behind each other's
    /// commits (docs/BENCHMARKS.md).
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let (fd, tmp) = try createTemporaryFile(besides: path, mode: mode)
        do throws(SystemError) {
            try writeAll(fd: fd, bytes, what: tmp)
        } catch {
            try? fd.close()
            unlink(tmp)
            throw error
        }
        try? fd.close()
        if rename(tmp, path) != 0 {
            let err = SystemError("rename \(tmp) to \(path)")
            unlink(tmp)
            throw err
        }
    }

    /// A new empty file `<path>.tmp.XXXXXX` opened for writing (and
    /// close-on-exec), to be renamed over `path`. Its name is random and it is
    /// created exclusively (mkostemp): a symlink or file planted at a
    /// predictable name can neither redirect the write nor be clobbered.
    public static func createTemporaryFile(besides path: String, mode: mode_t,
                                           flags: Int32 = 0) throws(SystemError) -> (fd: FileDescriptor, path: String) {
        var template = Array("\(path).tmp.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { ocishim_mkostemp($0.baseAddress!, O_CLOEXEC | flags) }
        if fd < 0 { throw SystemError("create a temporary file for \(path)") }
        let tmp = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if fchmod(fd, mode) != 0 {
            let err = SystemError("fchmod \(tmp)")
            close(fd)
            unlink(tmp)
            throw err
        }
        return (FileDescriptor(rawValue: fd), tmp)
    }

    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o644) throws(SystemError) {
        try writeAtomically(path, Array(text.utf8), mode: mode)
    }

    /// mkdir -p.
    public static func createDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if isDirectory(path) { return }
        let parent = dirname(of: path)
        if parent != path && !parent.isEmpty { try createDirectory(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError("mkdir \(path)") }
    }

    /// rm -rf, without following symlinks.
    public static func removeTree(_ path: String) throws(SystemError) {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return }
            throw SystemError("lstat \(path)")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard let dir = opendir(path) else { throw SystemError("opendir \(path)") }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = direntName(entry)
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 && errno != ENOENT { throw SystemError("rmdir \(path)") }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw SystemError("unlink \(path)")
        }
    }

    /// Removes a file; a missing file is not an error.
    public static func removeFile(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink \(path)") }
    }

    /// The entries of a directory, without "." and "..".
    public static func list(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir \(path)") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = direntName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    private static func direntName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    public static func dirname(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Joins path components with single slashes.
    public static func join(_ parts: String...) -> String {
        var out = ""
        for part in parts where !part.isEmpty {
            if out.isEmpty || part.hasPrefix("/") && out.hasSuffix("/") {
                out += part.hasPrefix("/") && out.hasSuffix("/") ? String(part.dropFirst()) : part
            } else if out.hasSuffix("/") || part.hasPrefix("/") {
                out += part
            } else {
                out += "/" + part
            }
        }
        return out
    }

    /// The absolute form of `path` relative to the current directory (no
    /// symlink resolution).
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buf, buf.count) != nil else { return path }
        let cwd = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path == "." ? cwd : join(cwd, path)
    }

    /// Searches `$PATH` for an executable, as exec.LookPath does.
    public static func lookPath(_ name: String, path: String? = nil) -> String? {
        if name.contains("/") { return isExecutableFile(name) ? name : nil }
        let search = path ?? (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        for dir in search.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = join(dir.isEmpty ? "." : String(dir), name)
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }
}

extension FileSystem {
    /// The target of a symlink; nil if `path` is not one.
    public static func readLink(_ path: String) -> String? {
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buf.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count - 1) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }

    /// The file's mode (following symlinks); nil when it does not exist.
    public static func statMode(_ path: String) throws(SystemError) -> mode_t? {
        var st = stat()
        if stat(path, &st) == 0 { return st.st_mode }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw SystemError("stat \(path)")
    }
}

/// mkdtemp under $TMPDIR (or /tmp).
public enum TemporaryDirectory {
    public static func make(prefix: String) throws(SystemError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemError("mkdtemp \(base)/\(prefix).XXXXXX") }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension FileSystem {
    /// Reads the regular file at `path` inside `root` as a process whose
    /// root directory is `root` would see it: symlinks resolve relative to
    /// `root` and `..` never climbs above it, atomically (openat2 with
    /// RESOLVE_IN_ROOT), and the open never blocks. Nil when the file does
    /// not exist. Throws ENOSYS on kernels without openat2 (before 5.6).
    public static func readInRoot(_ root: String, _ path: String, limit: Int) throws(SystemError) -> [UInt8]? {
        let rootFD = ocishim_open_dir_path(root)
        if rootFD < 0 { throw SystemError("open \(root)") }
        defer { close(rootFD) }
        let fd = ocishim_open_in_root(rootFD, path, O_RDONLY | O_NONBLOCK)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError("open \(path) in \(root)")
        }
        defer { close(fd) }
        return try readRegularFile(fd: FileDescriptor(rawValue: fd), limit: limit, what: join(root, path))
    }
}
