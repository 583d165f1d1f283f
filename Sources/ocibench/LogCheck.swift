import Foundation

/// Reads back a k8s-file log and counts the container output it holds, so a
/// run that lost or duplicated output does not count as fast, and the
/// records it took: every F record ends a line, a P record is part of one.
enum LogCheck {
    struct Content: Equatable {
        var bytes = 0
        var records = 0
        var partialRecords = 0
    }

    /// The content bytes of all records: an F record's text and its newline,
    /// a P record's text.
    static func content(of path: String) throws -> Content {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        var result = Content()
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let start = base + offset
                guard let newline = memchr(start, 0x0A, raw.count - offset) else {
                    throw BenchError("\(path): a record without a newline at byte \(offset)")
                }
                let length = start.distance(to: UnsafeRawPointer(newline))
                // "<timestamp> <stream> <F|P> <text>"
                var spaces = 0
                var index = 0
                while index < length && spaces < 3 {
                    if start.load(fromByteOffset: index, as: UInt8.self) == 0x20 { spaces += 1 }
                    index += 1
                }
                guard spaces == 3, index >= 2 else { throw BenchError("\(path): malformed record at byte \(offset)") }
                let tag = start.load(fromByteOffset: index - 2, as: UInt8.self)
                result.bytes += length - index + (tag == UInt8(ascii: "F") ? 1 : 0)
                result.records += 1
                if tag == UInt8(ascii: "P") { result.partialRecords += 1 }
                offset += length + 1
            }
        }
        return result
    }
}
