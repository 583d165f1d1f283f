import ArgumentParser
import Glibc
import ShimCore
import ShimProtocol

@main
struct OCICtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocictl",
        abstract: "Drive ocishim shims: the engine's side, on the command line.",
        usage: "ocictl [--root <dir>] [--runtime-root <dir>] <subcommand> [<options>] [<arguments>]",
        discussion: """
            Containers are addressed by id; each has a shim whose state lives in <root>/<id>.

            Global options (before the subcommand, as runc's): --root <dir>, the directory of \
            the shims' state directories (default: $\(GlobalOptions.rootVariable), else \
            \(GlobalOptions.defaultRoot); also taken after the subcommand, and as --state-root); \
            --runtime-root <dir>, the OCI runtime's --root for the containers created (create, run \
            and restore also take it).

            Shell completion: `ocictl --generate-completion-script bash` (or zsh, fish) prints \
            a script to source or install, e.g. \
            `ocictl --generate-completion-script bash > /etc/bash_completion.d/ocictl`.
            """,
        version: "ocictl \(ShimVersion.current) (ocishim protocol \(ShimService.protocolVersion))",
        subcommands: [Create.self, Start.self, Run.self, State.self, Kill.self, Stop.self, Remove.self, Wait.self,
                      Events.self, Logs.self, Pause.self, Resume.self, Update.self, Checkpoint.self, Restore.self,
                      PS.self, Exec.self, Attach.self, Version.self, Replay.self])

    // The global options are taken off the command line by
    // GlobalOptions.split before ArgumentParser sees it (an option declared
    // here would also swallow the subcommands' --root), and documented in
    // the discussion above.

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let rest: [String]
        do {
            (GlobalOptions.current, rest) = try GlobalOptions.split(arguments)
        } catch {
            exit(withError: error)
        }
        var command: ParsableCommand
        do {
            command = try parseAsRoot(rest)
        } catch {
            if let unknown = CommandSuggestion.unknownCommand(in: rest, known: commandNames) {
                writeErr(unknown.message + "\n")
                Glibc.exit(ExitCode.validationFailure.rawValue)
            }
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // Help, usage and validation errors, with ArgumentParser's words
            // and exit status.
            exit(withError: error)
        } catch {
            let failure = Failure(error)
            writeErr("ocictl: \(failure.message)\n")
            Glibc.exit(failure.exitCode)
        }
    }

    /// `ocictl` alone: the help.
    func run() throws { throw CleanExit.helpRequest(self) }

    /// Every subcommand's name and aliases.
    static var commandNames: [String] {
        configuration.subcommands.flatMap { [$0._commandName] + $0.configuration.aliases }
    }
}
