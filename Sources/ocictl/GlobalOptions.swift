import Glibc

/// The options before the command (`ocictl --root /run/x ps`), as runc
/// takes its global options. ArgumentParser binds options to the command
/// they are declared on, so these are taken off the command line first and
/// every command reads them from `current`.
struct GlobalOptions: Equatable {
    static let rootVariable = "OCICTL_ROOT"
    static let defaultRoot = "/run/ocishim"
    nonisolated(unsafe) static var current = GlobalOptions()

    var root: String?
    var runtimeRoot: String?

    struct MissingValue: Error, CustomStringConvertible {
        let option: String
        var description: String { "missing value for \(option)" }
    }

    /// The global options before the first word that is not an option (the
    /// command), and the rest of the command line unchanged. Other options
    /// (--help, --version) stay for ArgumentParser.
    static func split(_ arguments: [String]) throws -> (GlobalOptions, [String]) {
        var options = GlobalOptions()
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("-") else { break }
            let (name, inline) = splitInline(argument)
            let target: WritableKeyPath<GlobalOptions, String?>?
            switch name {
            case "--root", "--state-root": target = \.root
            case "--runtime-root": target = \.runtimeRoot
            default: target = nil
            }
            guard let target else {
                rest.append(argument)
                index += 1
                continue
            }
            if let inline {
                options[keyPath: target] = inline
                index += 1
            } else {
                guard index + 1 < arguments.count else { throw MissingValue(option: name) }
                options[keyPath: target] = arguments[index + 1]
                index += 2
            }
        }
        return (options, rest + arguments[index...])
    }

    /// `--root=/x` as ("--root", "/x").
    private static func splitInline(_ argument: String) -> (String, String?) {
        guard let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    /// The state root: the command's own --root, the global one, the
    /// environment, the default.
    static func stateRoot(commandOption: String?) -> String {
        if let commandOption { return commandOption }
        if let root = current.root { return root }
        if let env = getenv(rootVariable), env.pointee != 0 { return String(cString: env) }
        return defaultRoot
    }
}
