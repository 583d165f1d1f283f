/// The shim's command line: a small table-driven parser instead of
/// swift-argument-parser. The shim is spawned once per container and lives as
/// long as it, so what its start-up touches stays resident: measured on an
/// idle shim, ArgumentParser's reflection and Codable machinery left 116 kB of
/// Private_Dirty behind per process (docs/BENCHMARKS.md). ocictl keeps
/// ArgumentParser. The conventions are the same: `--name value` or
/// `--name=value`, flags without a value, `--help`, errors with the usage on
/// stderr and exit status 64 (EX_USAGE).
struct OptionSpec {
    enum Kind {
        case flag
        /// One value; `valueName` shows in the help.
        case single(valueName: String, required: Bool)
        /// Any number of occurrences, each with a value.
        case repeated(valueName: String)
    }

    let name: String
    let kind: Kind
    let help: String

    static func flag(_ name: String, _ help: String) -> OptionSpec { OptionSpec(name: name, kind: .flag, help: help) }
    static func value(_ name: String, _ valueName: String, required: Bool = false, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .single(valueName: valueName, required: required), help: help)
    }
    static func repeated(_ name: String, _ valueName: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .repeated(valueName: valueName), help: help)
    }

    var synopsis: String {
        switch kind {
        case .flag: "--\(name)"
        case .single(let valueName, _), .repeated(let valueName): "--\(name) <\(valueName)>"
        }
    }
}

/// A subcommand's description for the parser and its help.
struct CommandSpec {
    let name: String
    let abstract: String
    var discussion = ""
    var options: [OptionSpec] = []
    /// Names of the positional arguments, all required.
    var positionals: [String] = []

    var usage: String {
        var parts = ["ocishim", name]
        for option in options {
            if case .single(_, true) = option.kind { parts.append(option.synopsis) }
        }
        if options.contains(where: { if case .single(_, true) = $0.kind { false } else { true } }) {
            parts.append("[<options>]")
        }
        parts += positionals.map { "<\($0)>" }
        return parts.joined(separator: " ")
    }

    var help: String {
        var text = "OVERVIEW: \(abstract)\n\n"
        if !discussion.isEmpty { text += Self.wrap(discussion, indent: "") + "\n\n" }
        text += "USAGE: \(usage)\n\nOPTIONS:\n"
        // Help text in a column; a long synopsis gets its help on the next line.
        let column = 28
        for option in options + [.flag("help", "Show help information.")] {
            var help = option.help
            if case .repeated = option.kind { help += " (repeatable)" }
            let lead = "  \(option.synopsis)"
            let indent = String(repeating: " ", count: column)
            let body = Self.wrap(help, indent: indent)
            if lead.count < column - 1 {
                text += lead + String(repeating: " ", count: column - lead.count) + body.dropFirst(column) + "\n"
            } else {
                text += lead + "\n" + body + "\n"
            }
        }
        return text
    }

    /// Words wrapped at 80 columns, every line starting with `indent`.
    private static func wrap(_ text: String, indent: String) -> String {
        var lines: [String] = []
        var line = indent
        for word in text.split(separator: " ") {
            if line.count > indent.count && line.count + 1 + word.count > 80 {
                lines.append(line)
                line = indent
            }
            line += (line.count > indent.count ? " " : "") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    /// Parses the arguments after the subcommand's name.
    func parse(_ arguments: ArraySlice<String>) throws(UsageError) -> ParsedArguments {
        var parsed = ParsedArguments()
        parsed.command = self
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                parsed.positionals.append(argument)
                continue
            }
            let body = argument.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            let inline = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
            if name == "help" { throw UsageError(help: self) }
            guard let option = options.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '--\(name)'", usage: usage)
            }
            switch option.kind {
            case .flag:
                if inline != nil { throw UsageError("'--\(name)' takes no value", usage: usage) }
                parsed.values[name, default: []].append("")
            case .single, .repeated:
                guard let value = inline ?? rest.popFirst() else {
                    throw UsageError("missing value for '\(option.synopsis)'", usage: usage)
                }
                if case .single = option.kind, parsed.values[name] != nil {
                    throw UsageError("'--\(name)' given more than once", usage: usage)
                }
                parsed.values[name, default: []].append(value)
            }
        }
        for option in options {
            if case .single(_, true) = option.kind, parsed.values[option.name] == nil {
                throw UsageError("missing expected argument '\(option.synopsis)'", usage: usage)
            }
        }
        if parsed.positionals.count != positionals.count {
            let expected = positionals.map { "<\($0)>" }.joined(separator: " ")
            throw UsageError("expected \(positionals.isEmpty ? "no arguments" : expected), got \(parsed.positionals.count) argument(s)", usage: usage)
        }
        return parsed
    }
}

struct ParsedArguments {
    /// The command, whose usage line goes with errors found after parsing
    /// (made only then: the shim starts once per container).
    fileprivate(set) var command: CommandSpec?
    var usage: String { command?.usage ?? "" }
    fileprivate(set) var values: [String: [String]] = [:]
    fileprivate(set) var positionals: [String] = []

    func flag(_ name: String) -> Bool { values[name] != nil }
    func value(_ name: String) -> String? { values[name]?.last }

    /// An option the command requires (the parser checked it is there; a
    /// command whose table forgot to mark it gets an error, not a trap).
    func required(_ name: String) throws(UsageError) -> String {
        guard let text = value(name) else { throw UsageError("missing expected argument '--\(name)'", usage: usage) }
        return text
    }
    func values(_ name: String) -> [String] { values[name] ?? [] }

    /// A numeric option, or `default` when absent.
    func number<T: LosslessStringConvertible>(_ name: String, default fallback: T) throws(UsageError) -> T {
        guard let text = value(name) else { return fallback }
        guard let number = T(text) else { throw UsageError("'--\(name)': '\(text)' is not a valid number", usage: usage) }
        return number
    }
}

/// A command line the shim cannot run with; `help` is the answer to --help.
struct UsageError: Error {
    let message: String
    let usage: String?
    let isHelp: Bool

    init(_ message: String, usage: String? = nil) {
        self.message = message
        self.usage = usage
        isHelp = false
    }

    init(help command: CommandSpec) {
        message = command.help
        usage = nil
        isHelp = true
    }
}
