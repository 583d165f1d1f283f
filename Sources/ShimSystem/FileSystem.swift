import Glibc

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

    /// A regular file, following symlinks (the seed's `Mode().IsRegular()`).
    public static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public static func isExecutableFile(_ path: String) -> Bool {
        isRegularFile(path) && access(path, X_OK) == 0
    }

    /// Reads a whole file; nil when it does not exist.
    public static func readIfExists(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError("open \(path)")
        }
        defer { close(fd) }
        return try readAll(fd: fd, limit: limit, what: path)
    }

    public static func read(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        guard let bytes = try readIfExists(path, limit: limit) else {
            throw SystemError("open \(path)", errno: .noSuchFileOrDirectory)
        }
        return bytes
    }

    public static func readString(_ path: String) throws(SystemError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Reads until EOF or `limit` bytes from a blocking fd.
    public static func readAll(fd: Int32, limit: Int, what: String) throws(SystemError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while out.count < limit {
            let want = min(chunk.count, limit - out.count)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(what)")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Writes all bytes to a blocking fd.
    public static func writeAll(fd: Int32, _ bytes: [UInt8], what: String) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write \(what)")
            }
            offset += n
        }
    }

    /// Replaces `path` atomically: a reader sees the old or the new content,
    /// never a partial file. The data is flushed before the rename so a crash
    /// cannot leave an empty file behind.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let tmp = "\(path).tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 { throw SystemError("create \(tmp)") }
        do throws(SystemError) {
            try writeAll(fd: fd, bytes, what: tmp)
            try sysCall("fsync \(tmp)") { fsync(fd) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let err = SystemError("rename \(tmp) to \(path)")
            unlink(tmp)
            throw err
        }
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
