import CShimSys
import Glibc
import SystemPackage

/// AF_UNIX sockets: the shim's control socket and the attach sockets.
public enum UnixSocket {
    /// sun_path holds 108 bytes including the terminating NUL.
    public static let maxPathLength = 107

    public static func connect(path: String, type: Int32) throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try withBindablePath(path) { (short) throws(SystemError) in try connect(shortPath: short, reportAs: path, type: type) })
    }

    private static func connect(shortPath path: String, reportAs original: String, type: Int32) throws(SystemError) -> Int32 {
        let fd = try sysCall("socket") { socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var addr: sockaddr_un
        do throws(SystemError) { addr = try address(path) } catch {
            close(fd)
            throw error
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if r != 0 {
            let err = SystemError("connect \(original)")
            close(fd)
            throw err
        }
        return fd
    }

    /// Runs `body` with a path short enough for sun_path: `path` itself, or
    /// the same file reached through /proc/self/fd/<dir> when the directory
    /// part is too long (engine state dirs often are).
    static func withBindablePath<T>(_ path: String, _ body: (String) throws(SystemError) -> T) throws(SystemError) -> T {
        if path.utf8.count <= maxPathLength { return try body(path) }
        let dir = FileSystem.dirname(of: path)
        let dirFD = ocishim_open_dir_path(dir)
        guard dirFD >= 0 else { throw SystemError("open \(dir)") }
        defer { close(dirFD) }
        let short = "/proc/self/fd/\(dirFD)/\(FileSystem.basename(of: path))"
        guard short.utf8.count <= maxPathLength else {
            throw SystemError("socket name \(FileSystem.basename(of: path)) is too long", errno: .fileNameTooLong)
        }
        return try body(short)
    }

    /// Binds and listens at `path` with `mode`; the socket is non-blocking.
    public static func listen(path: String, type: Int32, mode: mode_t, backlog: Int32 = 64) throws(SystemError) -> FileDescriptor {
        let fd = try sysCall("socket") { socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
        do throws(SystemError) {
            try withBindablePath(path) { (short) throws(SystemError) in
                var addr = try address(short)
                // Created with the final mode: no window in which another
                // user could connect.
                let old = umask(0o777 & ~mode)
                let r = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
                umask(old)
                if r != 0 { throw SystemError("bind \(path)") }
            }
            try sysCall("chmod \(path)") { chmod(path, mode) }
            try sysCall("listen \(path)") { Glibc.listen(fd, backlog) }
            return FileDescriptor(rawValue: fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Accepts one pending peer (non-blocking, close-on-exec); nil if none.
    public static func accept(_ listener: FileDescriptor) throws(SystemError) -> FileDescriptor? {
        while true {
            let peer = ocishim_accept4(listener.rawValue, Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
            if peer >= 0 { return FileDescriptor(rawValue: peer) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == ECONNABORTED { return nil }
            throw SystemError("accept")
        }
    }

    private static func address(_ path: String) throws(SystemError) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count <= maxPathLength else {
            throw SystemError("socket path \(path) is longer than \(maxPathLength) bytes", errno: .fileNameTooLong)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return addr
    }
}
