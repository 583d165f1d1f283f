/// The messages and rpcs of a .proto file (proto3, as proto/ocishim/v1
/// writes it): enough to list every numeric field of every request, so that
/// the numeric fuzzer follows the protocol as it grows instead of a list
/// written by hand. Nested messages and enums, `oneof` blocks and `stream`
/// are understood; options, `map`, `reserved` and imports are skipped.
struct ProtoSchema {
    struct Field {
        let name: String
        let number: Int
        let type: String
        let repeated: Bool
    }

    struct Message {
        let name: String
        var fields: [Field]
    }

    struct RPC {
        let name: String
        let request: String
        let clientStreaming: Bool
        let serverStreaming: Bool
    }

    private(set) var messages: [String: Message] = [:]
    private(set) var enums: Set<String> = []
    private(set) var rpcs: [RPC] = []

    /// Scalar types whose values are numbers on the wire.
    static let numericScalars: Set<String> = [
        "int32", "int64", "uint32", "uint64", "sint32", "sint64",
        "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "float", "double",
    ]
    static let otherScalars: Set<String> = ["string", "bytes"]

    init(parsing text: String) throws {
        var tokens = Tokens(text)
        try parseBody(&tokens, scope: "", topLevel: true)
    }

    func message(named name: String) -> Message? {
        if let m = messages[name] { return m }
        // A reference from inside a nested scope, or a qualified one.
        let simple = name.split(separator: ".").last.map(String.init) ?? name
        return messages.values.first { $0.name == simple || $0.name.hasSuffix("." + simple) }
    }

    func isEnum(_ name: String) -> Bool {
        let simple = name.split(separator: ".").last.map(String.init) ?? name
        return enums.contains(name) || enums.contains { $0 == simple || $0.hasSuffix("." + simple) }
    }

    /// A numeric field reached from a request: the fields from the request
    /// down to it (nested messages first), and its scalar type ("enum" for
    /// an enum).
    struct NumericPath {
        let fields: [Field]
        let kind: String
        var dotted: String { fields.map(\.name).joined(separator: ".") }
    }

    /// Every numeric field of `message` and of the messages it holds, up to
    /// `depth` levels down (a message type is not entered twice on one path).
    func numericPaths(of message: String, depth: Int = 4) -> [NumericPath] {
        var out: [NumericPath] = []
        func walk(_ name: String, _ prefix: [Field], _ seen: Set<String>) {
            guard let m = self.message(named: name), prefix.count < depth else { return }
            for field in m.fields {
                if Self.numericScalars.contains(field.type) {
                    out.append(NumericPath(fields: prefix + [field], kind: field.type))
                } else if isEnum(field.type) {
                    out.append(NumericPath(fields: prefix + [field], kind: "enum"))
                } else if !Self.otherScalars.contains(field.type), let inner = self.message(named: field.type),
                          !seen.contains(inner.name) {
                    walk(inner.name, prefix + [field], seen.union([inner.name]))
                }
            }
        }
        walk(message, [], [message])
        return out
    }

    // --- parsing ------------------------------------------------------------------

    private mutating func parseBody(_ t: inout Tokens, scope: String, topLevel: Bool) throws {
        while let word = t.next() {
            switch word {
            case "}":
                if topLevel { throw TortureError("proto: unexpected } at \(t.position)") }
                return
            case "syntax", "package", "import", "option":
                t.skip(past: ";")
            case "message":
                let name = try t.word()
                let full = scope.isEmpty ? name : scope + "." + name
                try t.expect("{")
                messages[full] = Message(name: full, fields: [])
                try parseMessage(&t, name: full)
            case "enum":
                let name = try t.word()
                enums.insert(scope.isEmpty ? name : scope + "." + name)
                try t.expect("{")
                t.skipBlock()
            case "service":
                _ = try t.word()
                try t.expect("{")
                try parseService(&t)
            case ";":
                continue
            default:
                throw TortureError("proto: unexpected '\(word)' at \(t.position)")
            }
        }
    }

    private mutating func parseMessage(_ t: inout Tokens, name: String) throws {
        while let word = t.next() {
            switch word {
            case "}": return
            case "message":
                let inner = try t.word()
                let full = name + "." + inner
                try t.expect("{")
                messages[full] = Message(name: full, fields: [])
                try parseMessage(&t, name: full)
            case "enum":
                enums.insert(name + "." + (try t.word()))
                try t.expect("{")
                t.skipBlock()
            case "oneof":
                _ = try t.word()
                try t.expect("{")
                // Fields of a oneof are fields of the message.
                try parseMessage(&t, name: name)
            case "option", "reserved", "extensions":
                t.skip(past: ";")
            case "map":
                t.skip(past: ";")
            case ";":
                continue
            default:
                var repeated = false
                var type = word
                if word == "repeated" || word == "optional" {
                    repeated = word == "repeated"
                    type = try t.word()
                }
                let fieldName = try t.word()
                try t.expect("=")
                guard let number = Int(try t.word()) else { throw TortureError("proto: field number of \(name).\(fieldName)") }
                t.skip(past: ";")
                messages[name]?.fields.append(Field(name: fieldName, number: number, type: type, repeated: repeated))
            }
        }
    }

    private mutating func parseService(_ t: inout Tokens) throws {
        while let word = t.next() {
            switch word {
            case "}": return
            case "rpc":
                let name = try t.word()
                try t.expect("(")
                var request = try t.word()
                var clientStreaming = false
                if request == "stream" { clientStreaming = true; request = try t.word() }
                try t.expect(")")
                try t.expect("returns")
                try t.expect("(")
                var response = try t.word()
                var serverStreaming = false
                if response == "stream" { serverStreaming = true; response = try t.word() }
                _ = response
                try t.expect(")")
                if t.peek() == "{" { _ = t.next(); t.skipBlock() } else { t.skip(past: ";") }
                rpcs.append(RPC(name: name, request: request, clientStreaming: clientStreaming, serverStreaming: serverStreaming))
            case "option":
                t.skip(past: ";")
            default:
                continue
            }
        }
    }
}

/// Words and single punctuation characters of a .proto file, without comments.
private struct Tokens {
    private var items: [String] = []
    private var index = 0
    var position: String { "token \(index)" }

    init(_ text: String) {
        var chars = Array(text.unicodeScalars)
        var i = 0
        var word = ""
        func flush() { if !word.isEmpty { items.append(word); word = "" } }
        while i < chars.count {
            let c = chars[i]
            if c == "/" && i + 1 < chars.count && chars[i + 1] == "/" {
                flush()
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                flush()
                i += 2
                while i + 1 < chars.count && !(chars[i] == "*" && chars[i + 1] == "/") { i += 1 }
                i += 2
                continue
            }
            if c == "\"" {
                flush()
                var s = "\""
                i += 1
                while i < chars.count && chars[i] != "\"" { s.unicodeScalars.append(chars[i]); i += 1 }
                items.append(s + "\"")
                i += 1
                continue
            }
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                flush()
            } else if "{}()<>;=,[]".unicodeScalars.contains(c) {
                flush()
                items.append(String(c))
            } else {
                word.unicodeScalars.append(c)
            }
            i += 1
        }
        flush()
        chars = []
    }

    mutating func next() -> String? {
        guard index < items.count else { return nil }
        defer { index += 1 }
        return items[index]
    }

    func peek() -> String? { index < items.count ? items[index] : nil }

    mutating func word() throws -> String {
        guard let w = next() else { throw TortureError("proto: unexpected end") }
        return w
    }

    mutating func expect(_ token: String) throws {
        let w = try word()
        guard w == token else { throw TortureError("proto: expected '\(token)', found '\(w)' at \(position)") }
    }

    mutating func skip(past token: String) {
        while let w = next(), w != token {}
    }

    /// Skips to the } that closes the block just opened.
    mutating func skipBlock() {
        var depth = 1
        while depth > 0, let w = next() {
            if w == "{" { depth += 1 } else if w == "}" { depth -= 1 }
        }
    }
}
