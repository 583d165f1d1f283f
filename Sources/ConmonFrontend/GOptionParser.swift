/// glib's GOptionContext as conmon uses it (one main group, help enabled,
/// unknown options are errors), so that every command line gets conmon's
/// outcome and glib's words:
///
/// - `--name value`, `--name=value`; a value is the next argument whatever
///   it looks like (podman writes `--exit-command-arg --root`).
/// - `-x value`, clusters of short options (`-ti`); a value is never glued
///   to its letter (`-cID` is the cluster c, I, D) but the argument after the
///   cluster; at most one letter of a cluster takes a value.
/// - A flag given a value (`--api-version=1`) is set, the value ignored.
/// - Integers as strtol(…, 0): blanks, sign, `0x` hex, leading-zero octal;
///   anything after the number is an error, as is a value out of range.
/// - Non-options, and everything after `--`, are left to the program
///   (conmon ignores them).
/// - `-h`, `-?`, `--help`, `--help-all` print the usage text and exit 0.
/// - The first error ends parsing: "Unknown option --x", "Missing argument
///   for -c", "Cannot parse integer value “abc” for --log-size-max",
///   "Integer value “…” for … out of range".
struct GOptionEntry: Sendable {
    enum Kind: Sendable, Equatable { case flag, string, stringArray, int, int64 }

    let long: String
    let short: Character?
    let kind: Kind
    let description: String
    /// G_OPTION_FLAG_HIDDEN: accepted, not in the help text.
    var hidden = false
}

/// A parsed value, as glib hands it to the program.
enum GOptionValue: Equatable, Sendable {
    case flag
    case string(String)
    case int(Int64)
}

enum GOptionOutcome: Equatable {
    /// Each option as it came, in order (an array option once per value).
    case parsed([(name: String, value: GOptionValue)])
    /// Help was asked for: print `help` on stdout, exit 0.
    case help

    static func == (a: GOptionOutcome, b: GOptionOutcome) -> Bool {
        switch (a, b) {
        case (.help, .help): true
        case (.parsed(let x), .parsed(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.name == $1.name && $0.value == $1.value }
        default: false
        }
    }
}

struct GOptionParser: Sendable {
    let entries: [GOptionEntry]
    /// The text after the program name on the usage line.
    let parameterString: String

    /// Parses `arguments` (without argv[0]). Throws glib's message.
    func parse(_ arguments: [String]) throws(GOptionError) -> GOptionOutcome {
        var parsed: [(name: String, value: GOptionValue)] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            guard argument.hasPrefix("-"), argument.count > 1 else {
                index += 1
                continue  // left to the program
            }
            if argument.hasPrefix("--") {
                let body = String(argument.dropFirst(2))
                if body == "help" || body == "help-all" { return .help }
                index = try parseLong(body, argument, arguments, index, &parsed)
            } else {
                let cluster = Array(argument.dropFirst())
                var next = index
                for letter in cluster {
                    if letter == "?" || (letter == "h" && !entries.contains { $0.short == "h" }) { return .help }
                    guard let entry = entries.first(where: { $0.short == letter }) else {
                        throw GOptionError("Unknown option \(argument)")
                    }
                    let name = "-\(letter)"
                    if entry.kind == .flag {
                        parsed.append((entry.long, .flag))
                        continue
                    }
                    // One value per cluster: the argument after it.
                    guard next == index else { throw GOptionError("Error parsing option \(name)") }
                    guard index + 1 < arguments.count else { throw GOptionError("Missing argument for \(name)") }
                    next = index + 1
                    parsed.append((entry.long, try value(arguments[next], for: entry, name: name)))
                }
                index = next
            }
            index += 1
        }
        return .parsed(parsed)
    }

    /// `--name`, `--name value`, `--name=value`; returns the index of the
    /// last argument used.
    private func parseLong(_ body: String, _ argument: String, _ arguments: [String], _ index: Int,
                           _ parsed: inout [(name: String, value: GOptionValue)]) throws(GOptionError) -> Int {
        if let entry = entries.first(where: { $0.long == body }) {
            let name = "--\(entry.long)"
            if entry.kind == .flag {
                parsed.append((entry.long, .flag))
                return index
            }
            guard index + 1 < arguments.count else { throw GOptionError("Missing argument for \(name)") }
            parsed.append((entry.long, try value(arguments[index + 1], for: entry, name: name)))
            return index + 1
        }
        if let eq = body.firstIndex(of: "="),
           let entry = entries.first(where: { $0.long == body[..<eq] }) {
            let name = "--\(entry.long)"
            let text = String(body[body.index(after: eq)...])
            parsed.append((entry.long, entry.kind == .flag ? .flag : try value(text, for: entry, name: name)))
            return index
        }
        throw GOptionError("Unknown option \(argument)")
    }

    private func value(_ text: String, for entry: GOptionEntry, name: String) throws(GOptionError) -> GOptionValue {
        switch entry.kind {
        case .flag: return .flag
        case .string, .stringArray: return .string(text)
        case .int: return .int(try Self.integer(text, name: name, range: Int64(Int32.min)...Int64(Int32.max)))
        case .int64: return .int(try Self.integer(text, name: name, range: Int64.min...Int64.max))
        }
    }

    /// glib's parse_int / parse_int64: strtol(text, &end, 0) must use the
    /// whole text and fit.
    static func integer(_ text: String, name: String, range: ClosedRange<Int64>) throws(GOptionError) -> Int64 {
        switch CNumber.strtol(Array(text.utf8), base: 0) {
        case .some(let result) where result.end == text.utf8.count && !text.isEmpty:
            guard !result.overflow, range.contains(result.value) else {
                throw GOptionError("Integer value “\(text)” for \(name) out of range")
            }
            return result.value
        default:
            throw GOptionError("Cannot parse integer value “\(text)” for \(name)")
        }
    }

    /// glib's g_option_context_get_help for a context with only a main
    /// group: the usage line, the help options, the application options,
    /// aligned on the longest name.
    func help(programName: String) -> String {
        let visible = entries.filter { !$0.hidden }
        var width = "-?, --help".count
        for entry in visible {
            width = max(width, entry.long.count + (entry.short == nil ? 0 : 4))
        }
        width += 4
        func row(_ names: String, _ description: String) -> String {
            let padding = max(0, width + 4 - names.count)
            return names + String(repeating: " ", count: padding) + " " + description + "\n"
        }
        var text = "Usage:\n  \(programName) [OPTION…] \(parameterString)\n\n"
        text += "Help Options:\n" + row("  -h, --help", "Show help options") + "\n"
        text += "Application Options:\n"
        for entry in visible {
            let names = entry.short.map { "  -\($0), --\(entry.long)" } ?? "  --\(entry.long)"
            text += row(names, entry.description)
        }
        return text + "\n"
    }
}

struct GOptionError: Error, Equatable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// C's number parsing, for the places conmon uses it (glib's option values,
/// sscanf's %d in the control FIFOs).
enum CNumber {
    struct Parsed: Equatable {
        /// Clamped to Int64 on overflow (as strtol clamps to LONG_MIN/MAX).
        var value: Int64
        var overflow: Bool
        /// Bytes used, blanks included; 0 when there was no number.
        var end: Int
    }

    /// strtol(3) with `base` 0 (prefix decides: 0x hex, 0 octal, else
    /// decimal) or 10; nil when no digits were found.
    static func strtol(_ bytes: [UInt8], from start: Int = 0, base: Int) -> Parsed? {
        var i = start
        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var radix = base
        if base == 0 || base == 16,
           i + 1 < bytes.count, bytes[i] == UInt8(ascii: "0"), bytes[i + 1] | 0x20 == UInt8(ascii: "x"),
           i + 2 < bytes.count, digit(bytes[i + 2], radix: 16) != nil {
            radix = 16
            i += 2
        } else if base == 0 {
            radix = i < bytes.count && bytes[i] == UInt8(ascii: "0") ? 8 : 10
        }
        let digitsStart = i
        var magnitude: UInt64 = 0
        var overflow = false
        while i < bytes.count, let d = digit(bytes[i], radix: radix) {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
            let (m2, o2) = m1.addingReportingOverflow(UInt64(d))
            if o1 || o2 { overflow = true }
            magnitude = overflow ? UInt64.max : m2
            i += 1
        }
        guard i > digitsStart else { return nil }
        let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        if magnitude > limit { overflow = true }
        let value: Int64 = overflow ? (negative ? Int64.min : Int64.max)
            : negative ? (magnitude == limit ? Int64.min : -Int64(magnitude)) : Int64(magnitude)
        return Parsed(value: value, overflow: overflow, end: i)
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0d).contains(byte)
    }

    private static func digit(_ byte: UInt8, radix: Int) -> Int? {
        let d: Int
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): d = Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): d = Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): d = Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
        return d < radix ? d : nil
    }
}
