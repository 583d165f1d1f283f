import Glibc

/// glib's g_file_set_contents and g_file_get_contents as conmon uses them
/// for its pid and exit files, with glib's error words (conmon puts them in
/// its messages): the contents go to "<path>.XXXXXX", which is renamed over
/// the path.
enum GFile {
    struct Failure: Error {
        /// glib's message, e.g. "Failed to create file “/x/pid.Q3ZK8A”: No
        /// such file or directory".
        let message: String
        let errno: Int32
    }

    static func setContents(_ path: String, _ text: String) throws(Failure) {
        var template = Array((path + ".XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        guard fd >= 0 else {
            let code = errno
            throw Failure(message: "Failed to create file “\(temporary)”: \(ConmonLog.strerror(code))", errno: code)
        }
        // g_mkstemp creates 0666 (less the umask); mkostemp makes it 0600.
        let mask = umask(0)
        umask(mask)
        _ = fchmod(fd, 0o666 & ~mask)
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let code = errno
                close(fd)
                unlink(temporary)
                throw Failure(message: "Failed to write file “\(temporary)”: write() failed: \(ConmonLog.strerror(code))", errno: code)
            }
            offset += n
        }
        close(fd)
        if rename(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            throw Failure(message: "Failed to rename file “\(temporary)” to “\(path)”: g_rename() failed: \(ConmonLog.strerror(code))",
                          errno: code)
        }
    }

    /// The file's contents, or glib's "Failed to open file “…”: …".
    static func contents(_ path: String, limit: Int = 1 << 20) throws(Failure) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw Failure(message: "Failed to open file “\(path)”: \(ConmonLog.strerror(code))", errno: code)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
