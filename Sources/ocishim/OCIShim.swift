import Glibc
import ShimCore

/// `ocishim serve` (the shim) and `ocishim connect` (a bridge to a running
/// shim's socket). The command line is parsed by CommandLineOptions, not
/// ArgumentParser: see there why.
@main
enum OCIShim {
    static let abstract = "A per-container OCI runtime shim speaking ttrpc on stdin/stdout."
    static let subcommands = [Serve.spec, Connect.spec]

    static func main() {
        let ready = Detach.serveEarly()
        var arguments = CommandLine.arguments.dropFirst()
        let name = arguments.popFirst()
        do {
            switch name {
            case "serve":
                try Serve(try Serve.spec.parse(arguments)).run(ready: ready)
            case "connect":
                try Connect(try Connect.spec.parse(arguments)).run()
            case "--version":
                print("ocishim version \(ShimVersion.current)")
                print(SELinux.buildDescription())
            case nil, "--help", "-h", "help":
                print(help)
            default:
                throw UsageError("unknown subcommand '\(name!)'", usage: "ocishim <subcommand>")
            }
        } catch let error as UsageError {
            if error.isHelp {
                print(error.message, terminator: "")
                exit(0)
            }
            var text = "Error: \(error.message)\n"
            if let usage = error.usage {
                let command = subcommands.contains { $0.name == name } ? "ocishim \(name!)" : "ocishim"
                text += "Usage: \(usage)\n  See '\(command) --help' for more information.\n"
            }
            writeStderr(text)
            exit(64)
        } catch {
            writeStderr("\(error)\n")
            exit(1)
        }
    }

    static var help: String {
        var text = "OVERVIEW: \(abstract)\n\nUSAGE: ocishim <subcommand>\n\nOPTIONS:\n  --version   Show the version.\n  -h, --help  Show help information.\n\nSUBCOMMANDS:\n"
        for command in subcommands {
            text += "  \(command.name)\(String(repeating: " ", count: max(1, 10 - command.name.count)))\(command.abstract)\n"
        }
        return text + "\n  See 'ocishim <subcommand> --help' for detailed help."
    }

    static func writeStderr(_ text: String) {
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
