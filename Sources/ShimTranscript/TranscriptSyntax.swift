import ShimProtocol
import ShimSystem

/// The small lexical pieces of the transcript format, shared by parser and
/// printer so that what one writes the other reads: quoted strings, hex bytes,
/// flag words and frame type names.
enum TranscriptSyntax {
    /// The indent of body lines under a frame line.
    static let bodyIndent = "    "
    /// Runs of at least this many equal bytes print as `XX*N`.
    static let minimumRun = 8

    // --- tokens -----------------------------------------------------------------

    struct Token: Equatable {
        /// The text, unquoted.
        var text: String
        /// It was written in quotes: never a keyword, never `key=value`.
        var quoted: Bool
    }

    /// Splits a line into whitespace-separated tokens; `"..."` is one token,
    /// and so is `key="..."` (the key and `=` are kept in `text`).
    static func tokenize(_ line: Substring) throws(TranscriptSyntaxError) -> [Token] {
        var tokens: [Token] = []
        var chars = Array(line)
        chars.append(" ")
        var i = 0
        while i < chars.count {
            if chars[i] == " " || chars[i] == "\t" {
                i += 1
                continue
            }
            var text = ""
            var quoted = false
            while i < chars.count && chars[i] != " " && chars[i] != "\t" {
                if chars[i] == "\"" {
                    let (value, next) = try unquote(chars, from: i)
                    text += value
                    quoted = text == value
                    i = next
                } else {
                    text.append(chars[i])
                    i += 1
                }
            }
            tokens.append(Token(text: text, quoted: quoted))
        }
        return tokens
    }

    /// Reads a quoted string starting at `chars[start] == "\""`; returns its
    /// value and the index after the closing quote.
    private static func unquote(_ chars: [Character], from start: Int) throws(TranscriptSyntaxError) -> (String, Int) {
        var bytes: [UInt8] = []
        var i = start + 1
        while i < chars.count {
            let c = chars[i]
            if c == "\"" { return (String(decoding: bytes, as: UTF8.self), i + 1) }
            if c != "\\" {
                bytes.append(contentsOf: Array(String(c).utf8))
                i += 1
                continue
            }
            guard i + 1 < chars.count else { break }
            switch chars[i + 1] {
            case "n": bytes.append(0x0a)
            case "t": bytes.append(0x09)
            case "r": bytes.append(0x0d)
            case "\\": bytes.append(0x5c)
            case "\"": bytes.append(0x22)
            case "x":
                guard i + 3 < chars.count, let v = UInt8(String(chars[i + 2...i + 3]), radix: 16) else {
                    throw TranscriptSyntaxError("bad \\x escape in a quoted string")
                }
                bytes.append(v)
                i += 2
            default:
                throw TranscriptSyntaxError("unknown escape \\\(chars[i + 1]) in a quoted string")
            }
            i += 2
        }
        throw TranscriptSyntaxError("unterminated quoted string")
    }

    /// `text` as a token: bare when that reads back the same, else quoted.
    static func word(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.allSatisfy { c in
            c > 0x20 && c < 0x7f && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") && c != UInt8(ascii: "#")
        }
        return plain ? text : quote(text)
    }

    /// `"text"` with `\" \\ \n \t \r` and `\xHH` for other control bytes.
    static func quote(_ text: String) -> String {
        var out = "\""
        for c in text.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if c.value < 0x20 || c.value == 0x7f {
                    out += "\\x" + hexByte(UInt8(c.value))
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    // --- hex ------------------------------------------------------------------

    static func hexByte(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 0xf)]])
    }

    /// Plain hex, no separators (`payload=` values).
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map(hexByte).joined()
    }

    /// Hex in groups of four bytes, with runs as `XX*N` (`-> raw` lines).
    static func hexGroups(_ bytes: [UInt8]) -> String {
        var groups: [String] = []
        var pending: [UInt8] = []
        func flush() {
            while !pending.isEmpty {
                groups.append(hex(Array(pending.prefix(4))))
                pending.removeFirst(min(4, pending.count))
            }
        }
        var i = 0
        while i < bytes.count {
            var j = i
            while j < bytes.count && bytes[j] == bytes[i] { j += 1 }
            if j - i >= minimumRun {
                flush()
                groups.append("\(hexByte(bytes[i]))*\(j - i)")
            } else {
                pending.append(contentsOf: bytes[i..<j])
            }
            i = j
        }
        flush()
        return groups.joined(separator: " ")
    }

    /// Reads hex digits (any even count) or a run `XX*N`.
    static func parseHex(_ token: String) throws(TranscriptSyntaxError) -> [UInt8] {
        if let star = token.firstIndex(of: "*") {
            let byte = try parseHex(String(token[..<star]))
            guard byte.count == 1, let count = Int(token[token.index(after: star)...]), count >= 0 else {
                throw TranscriptSyntaxError("bad byte run \(token): write it as XX*COUNT")
            }
            return [UInt8](repeating: byte[0], count: count)
        }
        let digits = Array(token.utf8)
        guard digits.count % 2 == 0 else { throw TranscriptSyntaxError("odd number of hex digits in \(token)") }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = HexDigit.value(digits[i]), let lo = HexDigit.value(digits[i + 1]) else {
                throw TranscriptSyntaxError("not hex: \(token)")
            }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    // --- flags and frame types -----------------------------------------------

    private static let flagWords: [(String, FrameFlags)] = [
        ("closed", .remoteClosed), ("open", .remoteOpen), ("nodata", .noData),
    ]

    /// `closed+nodata`; bits without a name as `0xNN`; `0` for none.
    static func flags(_ flags: FrameFlags) -> String {
        var words: [String] = []
        var rest = flags.rawValue
        for (word, flag) in flagWords where flags.contains(flag) {
            words.append(word)
            rest &= ~flag.rawValue
        }
        if rest != 0 { words.append("0x" + hexByte(rest)) }
        return words.isEmpty ? "0" : words.joined(separator: "+")
    }

    static func parseFlags(_ text: String) throws(TranscriptSyntaxError) -> FrameFlags {
        var flags = FrameFlags()
        for part in text.split(separator: "+") {
            if let (_, flag) = flagWords.first(where: { $0.0 == part }) {
                flags.insert(flag)
            } else if part.hasPrefix("0x"), let v = UInt8(part.dropFirst(2), radix: 16) {
                flags.insert(FrameFlags(rawValue: v))
            } else if let v = UInt8(part) {
                flags.insert(FrameFlags(rawValue: v))
            } else {
                throw TranscriptSyntaxError("unknown flag \(part): use closed, open, nodata or 0xNN joined by +")
            }
        }
        return flags
    }

    static func frameType(_ raw: UInt8) -> String {
        FrameType(rawValue: raw)?.description ?? "\(raw)"
    }

    static func parseFrameType(_ text: String) throws(TranscriptSyntaxError) -> UInt8 {
        for type in [FrameType.request, .response, .data] where type.description == text { return type.rawValue }
        guard let raw = UInt8(text) else { throw TranscriptSyntaxError("unknown frame type \(text): use request, response, data or a number") }
        return raw
    }

    // --- status codes ----------------------------------------------------------

    static func codeName(_ code: Int32) -> String {
        RPCCode(rawValue: code)?.name ?? "\(code)"
    }

    static func parseCode(_ text: String) throws(TranscriptSyntaxError) -> Int32 {
        if let code = RPCCode(name: text) { return code.rawValue }
        if let raw = Int32(text) { return raw }
        throw TranscriptSyntaxError("unknown status code \(text): use a name such as INVALID_ARGUMENT or a number")
    }
}

/// A lexical error; the parser adds the line number.
struct TranscriptSyntaxError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
