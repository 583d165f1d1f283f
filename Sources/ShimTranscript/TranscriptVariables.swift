/// Values known to a session before it starts: the container id, the state
/// directory, the shim's version (later the bundle, ...). A transcript refers
/// to them as `${NAME}`: replay fills them into what it sends, and recording
/// and replay both write them back by name into what the shim answers.
public struct TranscriptVariables: Sendable, Equatable {
    public static let id = "ID"
    public static let stateDir = "STATE_DIR"
    public static let shimVersion = "SHIM_VERSION"
    public static let bundle = "BUNDLE"

    public private(set) var values: [String: String] = [:]

    public init(_ values: [String: String] = [:]) {
        for (name, value) in values { self[name] = value }
    }

    /// The session variables every replay defines.
    public static func session(id: String, stateDir: String, shimVersion: String) -> TranscriptVariables {
        TranscriptVariables([Self.id: id, Self.stateDir: stateDir, Self.shimVersion: shimVersion])
    }

    public subscript(name: String) -> String? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// `${NAME}` replaced by its value; `$${` stands for a literal `${`.
    public func expand(_ text: String) throws(TranscriptVariableError) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var rest = text[...]
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[dollar...]
            if after.hasPrefix("$${") {
                out += "${"
                rest = after.dropFirst(3)
            } else if after.hasPrefix("${"), let close = after.firstIndex(of: "}") {
                let name = String(after[after.index(dollar, offsetBy: 2)..<close])
                guard let value = values[name] else {
                    throw TranscriptVariableError(name: name, known: values.keys.sorted())
                }
                out += value
                rest = after[after.index(after: close)...]
            } else {
                out += "$"
                rest = after.dropFirst()
            }
        }
        return out + rest
    }

    /// Every occurrence of a variable's value replaced by `${NAME}`. Longer
    /// values go first, so a state directory that contains the id becomes
    /// `${STATE_DIR}`, not `/tmp/${ID}`.
    public func abstract(_ text: String) -> String {
        var text = text
        let longestFirst = values.filter { !$0.value.isEmpty }
            .sorted { ($0.value.count, $0.key) > ($1.value.count, $1.key) }
        for (name, value) in longestFirst where text.contains(value) {
            text = text.replacing(value, with: "${\(name)}")
        }
        return text
    }
}

public struct TranscriptVariableError: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var known: [String]

    public var description: String {
        "unknown variable ${\(name)} (this session defines \(known.map { "${\($0)}" }.joined(separator: ", ")))"
    }
}
