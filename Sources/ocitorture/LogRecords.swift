import Foundation

/// A k8s-file log as the shim writes it: "<RFC3339 time> <stdout|stderr>
/// <P|F> <content>\n" per record; P records continue on the next record of
/// the same stream.
struct K8sLog {
    struct Record {
        let stream: String
        let partial: Bool
        let content: ArraySlice<UInt8>
    }

    private(set) var records: [Record] = []
    /// Lines that are not records (torn or garbage), with their number.
    private(set) var malformed: [String] = []
    /// Whether the file ends with a complete record.
    private(set) var endsCleanly = true
    let bytes: [UInt8]

    init(path: String) {
        bytes = (FileManager.default.contents(atPath: path).map { [UInt8]($0) }) ?? []
        // Newlines found with memchr: the suite runs as a debug build, where
        // a byte-by-byte loop over tens of MB takes seconds.
        var newlines: [Int] = []
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count, let hit = memchr(base + offset, 0x0A, buffer.count - offset) {
                let at = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                newlines.append(at)
                offset = at + 1
            }
        }
        records.reserveCapacity(newlines.count)
        var start = 0
        for (index, nl) in newlines.enumerated() {
            let line = bytes[start..<nl]
            if let record = Self.parse(line) {
                records.append(record)
            } else {
                malformed.append("line \(index + 1): \(Self.show(line))")
            }
            start = nl + 1
        }
        if start < bytes.count {
            endsCleanly = false
            malformed.append("line \(newlines.count + 1) has no newline: \(Self.show(bytes[start...]))")
        }
    }

    static func parse(_ line: ArraySlice<UInt8>) -> Record? {
        var fields: [ArraySlice<UInt8>] = []
        var rest = line
        for _ in 0..<3 {
            guard let space = rest.firstIndex(of: 0x20) else { return nil }
            fields.append(rest[rest.startIndex..<space])
            rest = rest[(space + 1)...]
        }
        let time = fields[0], stream = fields[1], tag = fields[2]
        // 2024-01-02T03:04:05.123456789+00:00 or ...Z: at least a date and a T.
        guard time.count >= 20, time.dropFirst(4).first == UInt8(ascii: "-"), time.contains(UInt8(ascii: "T")) else { return nil }
        guard stream.elementsEqual("stdout".utf8) || stream.elementsEqual("stderr".utf8) else { return nil }
        guard tag.elementsEqual("P".utf8) || tag.elementsEqual("F".utf8) else { return nil }
        return Record(stream: String(decoding: stream, as: UTF8.self), partial: tag.first == UInt8(ascii: "P"), content: rest)
    }

    /// The lines of one stream, P records joined to what follows them.
    func lines(of stream: String = "stdout") -> [String] {
        var out: [String] = []
        var pending: [UInt8] = []
        for record in records where record.stream == stream {
            pending += record.content
            if !record.partial {
                out.append(String(decoding: pending, as: UTF8.self))
                pending = []
            }
        }
        if !pending.isEmpty { out.append(String(decoding: pending, as: UTF8.self)) }
        return out
    }

    var partialRecords: Int { records.reduce(0) { $0 + ($1.partial ? 1 : 0) } }

    static func show(_ bytes: ArraySlice<UInt8>) -> String {
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
        return "\"\(text)\(bytes.count > 80 ? "..." : "")\""
    }
}

/// Checks numbered lines ("1", "2", ...): each exactly once, in order.
struct NumberedLines {
    var expected = 1
    var missing = 0
    var duplicated = 0
    var outOfOrder = 0
    var other: [String] = []
    var firstProblems: [String] = []

    mutating func see(_ line: String) {
        guard let n = Int(line) else {
            other.append(line)
            return
        }
        if n == expected {
            expected += 1
        } else if n > expected {
            missing += n - expected
            note("lines \(expected)...\(n - 1) missing before \(n)")
            expected = n + 1
        } else {
            if n == expected - 1 { duplicated += 1; note("line \(n) twice") } else { outOfOrder += 1; note("line \(n) after \(expected - 1)") }
        }
    }

    var count: Int { expected - 1 }
    var clean: Bool { missing == 0 && duplicated == 0 && outOfOrder == 0 }

    private mutating func note(_ text: String) {
        if firstProblems.count < 5 { firstProblems.append(text) }
    }
}

/// A shim's state.json (ocictl ps reads the same file).
enum StateJSON {
    static func read(_ stateDir: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: stateDir + "/state.json") else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    static func shimPid(_ stateDir: String) -> pid_t? {
        if let n = read(stateDir)?["shimPid"] as? Int, n > 0 { return pid_t(n) }
        if let text = try? String(contentsOfFile: stateDir + "/shim.pid", encoding: .utf8) {
            return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return nil
    }

    static func containerStatus(_ stateDir: String) -> String? {
        (read(stateDir)?["container"] as? [String: Any])?["status"] as? String
    }

    static func containerPid(_ stateDir: String) -> pid_t? {
        ((read(stateDir)?["container"] as? [String: Any])?["pid"] as? Int).map { pid_t($0) }
    }
}
