import Glibc

/// inotify on files that nobody but a misbehaving shim should open.
final class FileWatch {
    private let fd: Int32
    private var names: [Int32: String] = [:]

    init(paths: [String]) {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        for path in paths {
            let wd = inotify_add_watch(fd, path, UInt32(IN_OPEN | IN_ACCESS))
            if wd >= 0 { names[wd] = path }
        }
    }

    deinit { close(fd) }

    /// "open <path>" / "read <path>" for each event so far.
    func events() -> [String] {
        var out: [String] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            while offset + 16 <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, UInt32) in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                }
                out.append("\(mask & UInt32(IN_OPEN) != 0 ? "open" : "read") \(names[wd] ?? "?")")
                offset += 16 + Int(length)
            }
        }
        return out
    }
}
