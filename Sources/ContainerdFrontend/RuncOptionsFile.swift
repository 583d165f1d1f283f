import ContainerdProtocol
import ShimSystem

/// The config file CRI's generic runtime options name (runtimeoptions.v1
/// `ConfigPath`). CRI decodes a runtime's `options` table into runc's
/// options only for runtime_type io.containerd.runc.v2; any other runtime
/// type gets just TypeUrl and ConfigPath, so the file is how a CRI runtime
/// class gives this shim what runc.v2 gets from its table. It holds that
/// table's keys, in TOML, as containerd's config writes them:
///
///     BinaryName = "crun"
///     SystemdCgroup = true
///     IoUid = 100000
///
/// Keys are containerd.runc.v1.Options' Go field names, matched without
/// regard to case (as containerd's TOML decoding matches them); values are
/// TOML strings, booleans and integers. An unknown key, a value of the wrong
/// type or a table is refused with the file and line, rather than ignored.
enum RuncOptionsFile {
    typealias Invalid = RuncOptions.Invalid

    static func read(_ path: String) throws(Invalid) -> Containerd_Runc_V1_Options {
        let text: String
        do { text = try FileSystem.readString(path, limit: 1 << 20) } catch {
            throw Invalid(description: "cannot read the runtime options file (ConfigPath): \(error)")
        }
        return try parse(text, path: path)
    }

    static func parse(_ text: String, path: String) throws(Invalid) -> Containerd_Runc_V1_Options {
        var options = Containerd_Runc_V1_Options()
        var seen: Set<String> = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let fail = { (why: String) in Invalid(description: "runtime options file \(path), line \(index + 1): \(why)") }
            var scanner = TOMLScanner(Substring(line))
            scanner.skipBlanks()
            if scanner.atEndOfContent { continue }
            if scanner.peek == "[" { throw fail("tables are not read: the options go at the top level") }
            guard let key = try scanner.key(fail), scanner.take("=") else { throw fail("expected KEY = VALUE") }
            let value = try scanner.value(fail)
            guard scanner.atEndOfContent else { throw fail("unexpected text after the value of \(key)") }
            let name = key.lowercased()
            guard seen.insert(name).inserted else { throw fail("\(key) is given twice") }
            try set(name, key: key, value, in: &options, fail)
        }
        return options
    }

    private static func set(_ name: String, key: String, _ value: TOMLScanner.Value, in options: inout Containerd_Runc_V1_Options,
                            _ fail: (String) -> Invalid) throws(Invalid) {
        func string() throws(Invalid) -> String {
            guard case .string(let s) = value else { throw fail("\(key) takes a string") }
            return s
        }
        func bool() throws(Invalid) -> Bool {
            guard case .bool(let b) = value else { throw fail("\(key) takes true or false") }
            return b
        }
        func id() throws(Invalid) -> UInt32 {
            guard case .integer(let n) = value, let id = UInt32(exactly: n) else { throw fail("\(key) takes an integer from 0 to \(UInt32.max)") }
            return id
        }
        switch name {
        case "nopivotroot": options.noPivotRoot = try bool()
        case "nonewkeyring": options.noNewKeyring = try bool()
        case "shimcgroup": options.shimCgroup = try string()
        case "iouid": options.ioUid = try id()
        case "iogid": options.ioGid = try id()
        case "binaryname": options.binaryName = try string()
        case "root": options.root = try string()
        case "criupath": options.criuPath = try string()
        case "systemdcgroup": options.systemdCgroup = try bool()
        case "criuimagepath": options.criuImagePath = try string()
        case "criuworkpath": options.criuWorkPath = try string()
        default:
            throw fail("unknown option \(key) (containerd.runc.v1.Options has NoPivotRoot, NoNewKeyring, ShimCgroup, IoUid, IoGid, "
                       + "BinaryName, Root, CriuPath, SystemdCgroup, CriuImagePath, CriuWorkPath)")
        }
    }
}

/// One line of TOML: keys, `=`, and the scalar values the options take.
struct TOMLScanner {
    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case integer(Int64)
    }

    private var rest: Substring

    init(_ line: Substring) { rest = line }

    var peek: Character? { rest.first }

    /// Nothing but blanks and a comment is left.
    var atEndOfContent: Bool {
        var copy = self
        copy.skipBlanks()
        return copy.rest.isEmpty || copy.rest.first == "#"
    }

    mutating func skipBlanks() {
        while let c = rest.first, c == " " || c == "\t" || c == "\r" { rest = rest.dropFirst() }
    }

    mutating func take(_ c: Character) -> Bool {
        skipBlanks()
        guard rest.first == c else { return false }
        rest = rest.dropFirst()
        return true
    }

    /// A bare key (letters, digits, `_`, `-`) or a quoted one.
    mutating func key(_ fail: (String) -> RuncOptions.Invalid) throws(RuncOptions.Invalid) -> String? {
        skipBlanks()
        if rest.first == "\"" || rest.first == "'" {
            guard case .string(let key) = try value(fail) else { return nil }
            return key
        }
        let bare = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        guard !bare.isEmpty else { return nil }
        rest = rest.dropFirst(bare.count)
        if rest.first == "." { throw fail("dotted keys are not read: the options go at the top level") }
        return String(bare)
    }

    mutating func value(_ fail: (String) -> RuncOptions.Invalid) throws(RuncOptions.Invalid) -> Value {
        skipBlanks()
        guard let first = rest.first else { throw fail("a value is missing") }
        switch first {
        case "\"":
            if rest.hasPrefix("\"\"\"") { throw fail("multi-line strings are not read") }
            rest = rest.dropFirst()
            return .string(try basicString(fail))
        case "'":
            if rest.hasPrefix("'''") { throw fail("multi-line strings are not read") }
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: "'") else { throw fail("unterminated string") }
            let text = String(rest[..<end])
            rest = rest[rest.index(after: end)...]
            return .string(text)
        default:
            let word = rest.prefix { !($0 == " " || $0 == "\t" || $0 == "\r" || $0 == "#") }
            rest = rest.dropFirst(word.count)
            switch word {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default:
                // Decimal, with single underscores between digits.
                let digits = word.hasPrefix("+") || word.hasPrefix("-") ? word.dropFirst() : word[...]
                let valid = !digits.isEmpty && digits.first != "_" && digits.last != "_" && !digits.contains("__")
                    && digits.allSatisfy { $0 == "_" || ($0.isASCII && $0.isNumber) }
                    && !(digits.count > 1 && digits.first == "0")
                guard valid, let number = Int64(word.filter { $0 != "_" }) else {
                    throw fail("\(word) is not a TOML string, boolean or decimal integer")
                }
                return .integer(number)
            }
        }
    }

    /// The rest of a "..." string, escapes decoded.
    private mutating func basicString(_ fail: (String) -> RuncOptions.Invalid) throws(RuncOptions.Invalid) -> String {
        var text = ""
        while let c = rest.first {
            rest = rest.dropFirst()
            switch c {
            case "\"":
                return text
            case "\\":
                guard let escaped = rest.first else { throw fail("unterminated string") }
                rest = rest.dropFirst()
                switch escaped {
                case "b": text.append("\u{8}")
                case "t": text.append("\t")
                case "n": text.append("\n")
                case "f": text.append("\u{c}")
                case "r": text.append("\r")
                case "\"": text.append("\"")
                case "\\": text.append("\\")
                case "u", "U":
                    let count = escaped == "u" ? 4 : 8
                    let hex = rest.prefix(count)
                    guard hex.count == count, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                        throw fail("bad \\\(escaped) escape")
                    }
                    rest = rest.dropFirst(count)
                    text.unicodeScalars.append(scalar)
                default:
                    throw fail("unknown escape \\\(escaped)")
                }
            default:
                text.append(c)
            }
        }
        throw fail("unterminated string")
    }
}
