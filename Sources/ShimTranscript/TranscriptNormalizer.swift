/// Turns what a shim answered into what a transcript may expect: values that
/// differ from run to run become placeholders. Recording and replay both pass
/// every answer through here, so a recorded transcript replays green.
///
/// Two steps, in this order:
/// 1. Field rules (`TranscriptNormalizer.rules`): a text-format field whose
///    path matches a rule has its value replaced (`shim_pid: <pid>`), or is
///    left out. Only answers are normalized; what the client sends is its own
///    choice and stays as written.
/// 2. Variables: each occurrence of a session variable's value, anywhere in
///    the answer (bodies and error messages), becomes `${NAME}`.
public struct TranscriptNormalizer: Sendable {
    public var variables: TranscriptVariables
    public var rules: [Rule]

    public init(variables: TranscriptVariables, rules: [Rule] = TranscriptNormalizer.rules) {
        self.variables = variables
        self.rules = rules
    }

    public struct Rule: Sendable {
        public enum Action: Sendable, Equatable {
            /// The value becomes this placeholder.
            case replace(String)
            /// All values of a repeated field become one line with this placeholder.
            case collapse(String)
            /// The field is left out (a fact about the host, not the protocol).
            case omit
        }

        /// Dotted text-format field path, matched against the end of the
        /// field's path in the answer; `*` matches any run of characters in
        /// one segment (`*_at` matches `started_at`).
        public let field: String
        public let action: Action
        /// Why the value varies; printed in docs/TRANSCRIPTS.md.
        public let reason: String

        public init(_ field: String, _ action: Action, _ reason: String) {
            self.field = field
            self.action = action
            self.reason = reason
        }

        public func matches(_ path: [Substring]) -> Bool {
            let segments = field.split(separator: ".")
            guard segments.count <= path.count else { return false }
            return zip(segments, path.suffix(segments.count)).allSatisfy { TranscriptGlob.matches($0.0, $0.1) }
        }
    }

    /// The one table of what varies by nature. First match wins.
    public static let rules: [Rule] = [
        Rule("shim_pid", .replace("<pid>"), "a new shim process each session"),
        Rule("pid", .replace("<pid>"), "container and exec processes get new pids each run"),
        Rule("*_at", .replace("<time>"), "Unix nanoseconds of when something happened"),
        Rule("timestamp", .replace("<time>"), "Unix nanoseconds of an event"),
        Rule("runtime.path", .replace("<path>"), "where this host installs the OCI runtime"),
        Rule("runtime.package", .replace("<text>"), "the distribution package and version of the runtime"),
        Rule("runtime.version", .replace("<text>"), "the runtime's own version text"),
        Rule("shim.path", .replace("<path>"), "where the shim binary was built or installed"),
        Rule("shim.package", .replace("<text>"), "the package that owns the shim binary, if any"),
        Rule("shim.version", .replace("<text>"), "the shim's version text"),
        Rule("criu_works", .omit, "host fact: whether CRIU works on this kernel"),
        Rule("criu_reason", .omit, "host fact: why CRIU does not work here"),
        Rule("methods", .collapse("<list>"),
             "the implemented rpcs grow with the shim; transcripts assert the handshake, not the catalogue"),
    ]

    public func normalize(_ expect: TranscriptExpect) -> TranscriptExpect {
        switch expect {
        case .ok(let id, .text(let lines)):
            .ok(streamID: id, body: .text(normalize(lines)))
        case .data(let id, let flags, .text(let lines)):
            .data(streamID: id, flags: flags, body: .text(normalize(lines)))
        case .error(let id, let code, let message):
            .error(streamID: id, code: code, message: variables.abstract(message))
        default:
            expect
        }
    }

    /// What the client sent, as a transcript writes it: variables by name.
    public func abstract(_ send: TranscriptSend) -> TranscriptSend {
        switch send {
        case .request(let id, let method, let service, let flags, let timeout, .text(let lines)):
            .request(streamID: id, method: method, service: service, flags: flags, timeoutNanos: timeout,
                     body: .text(lines.map(variables.abstract)))
        case .data(let id, let flags, .text(let lines)):
            .data(streamID: id, flags: flags, body: .text(lines.map(variables.abstract)))
        default:
            send
        }
    }

    /// Applies the field rules, then the variables, to text-format lines
    /// (as swift-protobuf prints them: `name: value`, `name {` ... `}`).
    public func normalize(_ lines: [String]) -> [String] {
        var out: [String] = []
        var path: [Substring] = []
        // Depth of a message block being left out (an `omit`ted message field).
        var skipping = 0
        var lastCollapsed: [Substring]?
        for line in lines {
            let trimmed = line.drop(while: { $0 == " " })
            if trimmed == "}" {
                if skipping > 0 { skipping -= 1 } else { out.append(line); _ = path.popLast() }
                continue
            }
            let opensBlock = trimmed.hasSuffix("{")
            if skipping > 0 {
                if opensBlock { skipping += 1 }
                continue
            }
            let name = fieldName(trimmed, opensBlock: opensBlock)
            let fieldPath = path + [name]
            let indent = line.prefix(line.count - trimmed.count)
            if lastCollapsed != fieldPath { lastCollapsed = nil }
            switch rules.first(where: { $0.matches(fieldPath) })?.action {
            case .replace(let placeholder)?:
                out.append("\(indent)\(name): \(placeholder)")
                if opensBlock { skipping = 1 }
            case .collapse(let placeholder)?:
                if lastCollapsed == nil { out.append("\(indent)\(name): \(placeholder)") }
                lastCollapsed = fieldPath
                if opensBlock { skipping = 1 }
            case .omit?:
                if opensBlock { skipping = 1 }
            case nil:
                out.append(variables.abstract(line))
                if opensBlock { path.append(name) }
            }
        }
        return out
    }

    /// `name` of `name: value` or `name {`.
    private func fieldName(_ line: Substring, opensBlock: Bool) -> Substring {
        if let colon = line.firstIndex(of: ":") { return line[..<colon] }
        if opensBlock { return line.dropLast().prefix(while: { $0 != " " }) }
        return line
    }
}

/// `*` wildcards, as the normalization rules and expected lines use them.
enum TranscriptGlob {
    static func matches(_ pattern: Substring, _ text: Substring) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return pattern == text }
        return matches(parts: parts[...], text)
    }

    /// `parts` were separated by wildcards: the first must be a prefix, the
    /// last a suffix, the others appear in order between.
    static func matches(parts: ArraySlice<Substring>, _ text: Substring) -> Bool {
        guard let first = parts.first, let last = parts.last, parts.count > 1 else { return parts.first == text }
        guard text.hasPrefix(first), text.count >= first.count + last.count else { return false }
        var rest = text.dropFirst(first.count).dropLast(last.count)
        guard text.hasSuffix(last) else { return false }
        for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
            guard let range = rest.firstRange(of: middle) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }
}
