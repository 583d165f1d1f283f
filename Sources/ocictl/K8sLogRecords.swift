import Glibc
import ShimSystem

/// One k8s-file record: "<RFC 3339 time> <stdout|stderr> <P|F> <content>".
struct LogRecord: Equatable {
    var time: String
    var stderr: Bool
    /// P: the line goes on in the next record of the stream.
    var partial: Bool
    var content: [UInt8]

    init?(_ line: ArraySlice<UInt8>) {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count >= 3 else { return nil }
        time = String(decoding: fields[0], as: UTF8.self)
        stderr = fields[1].elementsEqual("stderr".utf8)
        partial = fields[2].elementsEqual("P".utf8)
        content = fields.count == 4 ? Array(fields[3]) : []
    }

    var nanos: Int64? { TimeText.parseRFC3339(time) }
}

/// Reads the records a k8s-file log has gained since the last read; a file
/// replaced (rotation) or truncated (size limit) is read from its start.
struct LogReader {
    let path: String
    private var fd: Int32 = -1
    private var inode: ino_t = 0
    private var pending: [UInt8] = []

    init(path: String) { self.path = path }

    mutating func readAvailable() -> [LogRecord] {
        reopenIfReplaced()
        guard fd >= 0 else { return [] }
        var records: [LogRecord] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            pending += buffer[0..<n]
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if let record = LogRecord(pending[start..<newline]) { records.append(record) }
                start = newline + 1
            }
            pending.removeFirst(start)
        }
        return records
    }

    private mutating func reopenIfReplaced() {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if fd >= 0 && st.st_ino == inode {
            if lseek(fd, 0, SEEK_CUR) > st.st_size {
                lseek(fd, 0, SEEK_SET)
                pending = []
            }
            return
        }
        if fd >= 0 { close(fd) }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        inode = st.st_ino
        pending = []
    }
}

/// Whole lines of a log: the records of one stream up to and including its
/// next F record.
enum LogLines {
    /// The records of the last `count` lines at or after `since`, in order.
    static func last(_ count: Int, of records: [LogRecord], since: Int64?) -> [LogRecord] {
        guard count > 0 else { return [] }
        var lines: [[LogRecord]] = []
        var open: [Bool: [LogRecord]] = [:]
        for record in records where LogPrinter.keeps(record, since: since) {
            open[record.stderr, default: []].append(record)
            if !record.partial {
                lines.append(open[record.stderr]!)
                open[record.stderr] = nil
            }
        }
        // Unfinished lines last, in the order they began.
        for (_, rest) in open.sorted(by: { ($0.value.first?.time ?? "") < ($1.value.first?.time ?? "") }) {
            lines.append(rest)
        }
        return lines.suffix(count).flatMap { $0 }
    }
}

/// Prints records: stdout records to stdout, stderr records to stderr, a P
/// record without its newline; with `timestamps`, each line's first
/// record's time in front of it.
struct LogPrinter {
    let timestamps: Bool
    let since: Int64?
    private var atLineStart: [Bool: Bool] = [:]

    init(timestamps: Bool, since: Int64?) {
        self.timestamps = timestamps
        self.since = since
    }

    static func keeps(_ record: LogRecord, since: Int64?) -> Bool {
        guard let since else { return true }
        return (record.nanos ?? Int64.max) >= since
    }

    mutating func print(_ records: [LogRecord]) {
        for record in records where Self.keeps(record, since: since) {
            var bytes: [UInt8] = []
            if timestamps && atLineStart[record.stderr, default: true] { bytes = Array((record.time + " ").utf8) }
            bytes += record.content
            if !record.partial { bytes.append(UInt8(ascii: "\n")) }
            atLineStart[record.stderr] = !record.partial
            try? FileSystem.writeAll(fd: record.stderr ? .standardError : .standardOutput, bytes, what: "output")
        }
    }
}
