/// The command line containerd gives a shim binary (runtime/v2/shim/shim.go's
/// flags, parsed as Go's flag package does: `-name value`, `-name=value`,
/// `--name`, booleans bare or `=true`; flags end at the first argument that
/// is not one, which is the action):
///
///     containerd-shim-ocishim-v1 -namespace NS -address ADDR -publish-binary BIN -id ID [-debug] start
///     containerd-shim-ocishim-v1 -namespace NS -address ADDR -publish-binary BIN -id ID -bundle DIR delete
///     containerd-shim-ocishim-v1 -namespace NS -id ID -address ADDR [-debug]       (the shim itself)
public struct ShimCommandLine: Equatable, Sendable {
    public enum Action: String, Sendable {
        /// Launch the shim, print its address.
        case start
        /// Clean up after a shim that died.
        case delete
        /// Be the shim: serve the task API.
        case serve
    }

    public var namespace = ""
    public var id = ""
    public var address = ""
    public var publishBinary = "containerd"
    public var bundle = ""
    /// A socket path to listen on instead of the inherited fd 3.
    public var socket = ""
    public var debug = false
    public var version = false
    public var action = Action.serve

    public init() {}

    public struct UsageError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    private static let booleans: Set<String> = ["debug", "v"]
    private static let values: Set<String> = ["namespace", "id", "address", "publish-binary", "bundle", "socket"]

    public static func parse<C: Collection>(_ arguments: C) throws(UsageError) -> ShimCommandLine where C.Element == String {
        var line = ShimCommandLine()
        var rest = Array(arguments)[...]
        while let argument = rest.first, argument.hasPrefix("-"), argument != "-" {
            rest = rest.dropFirst()
            if argument == "--" { break }
            var name = Substring(argument.dropFirst(argument.hasPrefix("--") ? 2 : 1))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = name[..<equals]
            }
            let key = String(name)
            if booleans.contains(key) {
                let on: Bool
                switch inline {
                case nil, "true", "1", "t", "T", "TRUE", "True": on = true
                case "false", "0", "f", "F", "FALSE", "False": on = false
                default: throw UsageError(description: "invalid boolean value \"\(inline!)\" for -\(key)")
                }
                if key == "debug" { line.debug = on } else { line.version = on }
                continue
            }
            guard values.contains(key) else { throw UsageError(description: "flag provided but not defined: -\(key)") }
            let value: String
            if let inline {
                value = inline
            } else if let next = rest.first {
                value = next
                rest = rest.dropFirst()
            } else {
                throw UsageError(description: "flag needs an argument: -\(key)")
            }
            switch key {
            case "namespace": line.namespace = value
            case "id": line.id = value
            case "address": line.address = value
            case "publish-binary": line.publishBinary = value
            case "bundle": line.bundle = value
            default: line.socket = value
            }
        }
        if let action = rest.first {
            guard let known = Action(rawValue: action), known != .serve else {
                throw UsageError(description: "unknown action \"\(action)\": use start or delete (none: serve)")
            }
            line.action = known
        }
        return line
    }

    /// The arguments of the shim process `start` launches.
    public var serveArguments: [String] {
        var arguments = ["-namespace", namespace, "-id", id, "-address", address]
        if debug { arguments.append("-debug") }
        return arguments
    }
}
