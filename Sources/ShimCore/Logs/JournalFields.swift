/// The journal entry fields of a container log record, in the systemd
/// journal's native protocol and in the order conmon 2.1.6 sends them:
///
///     MESSAGE                       the line, newline included (as conmon)
///     CONTAINER_ID_FULL             the container ID
///     PRIORITY                      6 (info) for stdout, 3 (err) for stderr
///     CONTAINER_ID                  its first 12 characters
///     CONTAINER_TAG                 only with a tag
///     CONTAINER_NAME                only with a name
///     SYSLOG_IDENTIFIER             the tag, else the name, else the short ID
///     NAME=VALUE                    each label (conmon 2.2's --log-label)
///     CONTAINER_PARTIAL_MESSAGE=true  only on a partial line
///
/// (conmon's libsystemd adds CODE_FILE, CODE_LINE and CODE_FUNC, which point
/// into conmon's own source; they mean nothing here and are left out.)
///
/// A field is "NAME=value\n", or, when the value holds a newline or is not
/// text, the binary form "NAME\n" + 64-bit little-endian length + value + "\n".
/// Everything but MESSAGE and the partial flag is fixed per stream and
/// encoded once, here.
struct JournalFields {
    static let shortIDLength = 12
    static let partialFlag = Array("CONTAINER_PARTIAL_MESSAGE=true\n".utf8)
    /// "MESSAGE\n" + length: the longest MESSAGE header.
    static let messageHeaderCapacity = 16

    private let stdoutFields: [UInt8]
    private let stderrFields: [UInt8]

    init(containerID: String, name: String, tag: String, labels: [String] = []) {
        let shortID = String(decoding: containerID.utf8.prefix(Self.shortIDLength), as: UTF8.self)
        func fields(priority: String) -> [UInt8] {
            var out: [UInt8] = []
            Self.appendField("CONTAINER_ID_FULL", containerID, to: &out)
            Self.appendField("PRIORITY", priority, to: &out)
            Self.appendField("CONTAINER_ID", shortID, to: &out)
            if !tag.isEmpty { Self.appendField("CONTAINER_TAG", tag, to: &out) }
            if !name.isEmpty { Self.appendField("CONTAINER_NAME", name, to: &out) }
            Self.appendField("SYSLOG_IDENTIFIER", !tag.isEmpty ? tag : !name.isEmpty ? name : shortID, to: &out)
            for label in labels {
                let parts = label.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                Self.appendField(String(parts[0]), parts.count > 1 ? String(parts[1]) : "", to: &out)
            }
            return out
        }
        stdoutFields = fields(priority: "6")
        stderrFields = fields(priority: "3")
    }

    /// Every field after MESSAGE, except the partial flag.
    func fixedFields(_ stream: LogStream) -> [UInt8] {
        stream == .stdout ? stdoutFields : stderrFields
    }

    /// Writes the start of the MESSAGE field for a value of `length` bytes:
    /// "MESSAGE=" or "MESSAGE\n" + length. The value and a "\n" follow it.
    static func writeMessageHeader(length: Int, binary: Bool, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        for byte in "MESSAGE".utf8 {
            out[count] = byte
            count += 1
        }
        guard binary else {
            out[count] = UInt8(ascii: "=")
            return count + 1
        }
        out[count] = UInt8(ascii: "\n")
        count += 1
        var value = UInt64(length)
        for _ in 0..<8 {
            out[count] = UInt8(truncatingIfNeeded: value)
            value >>= 8
            count += 1
        }
        return count
    }

    static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        let bytes = Array(value.utf8)
        let binary = bytes.withUnsafeBytes { needsBinaryForm($0) }
        out.append(contentsOf: name.utf8)
        if binary {
            out.append(UInt8(ascii: "\n"))
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { out.append(contentsOf: $0) }
        } else {
            out.append(UInt8(ascii: "="))
        }
        out.append(contentsOf: bytes)
        out.append(UInt8(ascii: "\n"))
    }

    /// Whether a value must take the binary form: it has a newline (the
    /// plain form ends at one), another control character, or is not valid
    /// UTF-8. Every complete line has a newline, so this scan only runs for
    /// partial lines and the fixed fields.
    static func needsBinaryForm(_ pieces: UnsafeRawBufferPointer...) -> Bool {
        var sawNonASCII = false
        for piece in pieces {
            for byte in piece {
                if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F { return true }
                if byte >= 0x80 { sawNonASCII = true }
            }
        }
        return sawNonASCII && !isValidUTF8(pieces)
    }

    /// UTF-8 validity of the pieces taken as one string (a character may
    /// straddle two of them).
    private static func isValidUTF8(_ pieces: [UnsafeRawBufferPointer]) -> Bool {
        var bytes = pieces.lazy.joined().makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
