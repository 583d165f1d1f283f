import Glibc
import ShimSystem

/// The end of a k8s-file log read back as output chunks, for an attach that
/// asks for what the container printed before it came (`replay_log`). The
/// log is written synchronously as output arrives, so reading it and then
/// joining the hub in the same loop turn loses and repeats nothing.
enum LogTail {
    /// What the container wrote, from the records in the last `maxBytes` of
    /// the log (a record cut by that limit is left out).
    static func read(path: String, maxBytes: Int) -> [(stream: LogStream, bytes: [UInt8])] {
        // Never blocks: something other than a regular file at the log's
        // path (a FIFO) is read as an empty log.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else { return [] }
        let size = Int(st.st_size)
        let start = max(0, size - maxBytes)
        var buffer = [UInt8](repeating: 0, count: size - start)
        var got = 0
        while got < buffer.count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, $0.count - got, off_t(start + got)) }
            if n <= 0 { break }
            got += n
        }
        var lines = buffer[0..<got].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if start > 0 && !lines.isEmpty { lines.removeFirst() }
        return parse(lines)
    }

    /// `<timestamp> <stdout|stderr> <F|P> <content>` records to chunks; F
    /// ends a line, P is a fragment. Malformed lines are skipped.
    static func parse(_ lines: [ArraySlice<UInt8>]) -> [(stream: LogStream, bytes: [UInt8])] {
        var out: [(stream: LogStream, bytes: [UInt8])] = []
        for line in lines {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count >= 3 else { continue }
            let stream: LogStream
            switch Array(fields[1]) {
            case Array("stdout".utf8): stream = .stdout
            case Array("stderr".utf8): stream = .stderr
            default: continue
            }
            let tag = Array(fields[2])
            guard tag == [UInt8(ascii: "F")] || tag == [UInt8(ascii: "P")] else { continue }
            var content = fields.count == 4 ? Array(fields[3]) : []
            if tag == [UInt8(ascii: "F")] { content.append(UInt8(ascii: "\n")) }
            if let last = out.last, last.stream == stream {
                out[out.count - 1].bytes += content
            } else {
                out.append((stream, content))
            }
        }
        return out
    }
}
