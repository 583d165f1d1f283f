import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// `ocictl exec ID [-t] [-i] [--user U] [--env K=V] [--cwd D] -- CMD...`:
/// runs a command in the container attached (no output is lost), exits with
/// its code, and cleans the session up.
struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a command in a running container and exit with its code.")
    @OptionGroup var address: ShimAddress
    @Flag(name: [.customShort("t"), .long], help: "Give the command a pseudo-terminal.") var tty = false
    @Flag(name: [.customShort("i"), .long], help: "Send stdin to the command.") var interactive = false
    @Option(name: [.customShort("u"), .long], help: "user, uid, user:group or uid:gid, resolved in the container.") var user: String?
    @Option(name: [.customShort("e"), .long], help: "KEY=VALUE added to the environment (repeatable).") var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: "Working directory inside the container.") var cwd: String?
    @Option(name: .customLong("detach-keys"), help: "Detach key sequence, podman's syntax (\"\" disables).") var detachKeys: String?
    @Option(name: .customLong("exec-id"), help: "The session id (default: a random one).") var execID: String?
    @Argument(help: "The container id.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).") var command: [String] = []

    func validate() throws {
        guard !command.filter({ $0 != "--" }).isEmpty else { throw ValidationError("give the command to run after --") }
        for entry in env where !entry.contains("=") { throw ValidationError("--env \(entry) is not KEY=VALUE") }
    }

    func run() throws {
        let args = command.first == "--" ? Array(command.dropFirst()) : command
        let session = execID ?? "ocictl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let client = try address.connect(id)
        client.timeoutSeconds = 60
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with {
            $0.options.stdin = interactive
            $0.options.stdout = true
            $0.options.stderr = true
            if let detachKeys {
                if detachKeys.isEmpty { $0.options.noDetachKeys = true } else { $0.options.detachKeys = detachKeys }
            }
            $0.options.exec = .with {
                $0.execID = session
                $0.args = args
                $0.env = env
                $0.cwd = cwd ?? ""
                $0.user = user ?? ""
                $0.terminal = tty
                $0.stdin = interactive
            }
        })
        let outcome: AttachLoop.Outcome
        do {
            outcome = try AttachLoop(client: client, stream: stream, forwardStdin: interactive, remoteTerminal: tty).run()
        } catch ClientError.rpc(let error) {
            throw CLIError("exec in \(id): \(error.message)")
        }
        switch outcome {
        case .exited(let code):
            _ = try? client.call("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = session },
                                 as: Ocishim_V1_ExecCleanupResponse.self)
            client.close()
            throw ExitCode(code)
        case .detached:
            client.close()
            writeErr("\nocictl: detached from exec session \(session) (it keeps running)\n")
        case .ended:
            client.close()
            throw CLIError("the exec in \(id) ended without an exit code")
        }
    }
}
