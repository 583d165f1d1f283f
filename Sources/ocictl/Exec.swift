import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// `ocictl exec [-t] [-i] [-d] [--user U] [--env K=V] [--cwd D] ID CMD...`:
/// options before the container id, as runc's and podman's: everything
/// after the id is the command. Runs the command attached (no output is
/// lost), exits with its code, and cleans the session up; with --detach
/// prints the session id and leaves it running (`ocictl attach --exec-id`).
struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command in a running container and exit with its code.",
        discussion: """
            Options go before the container id; everything after it is the command (a `--` \
            before the command is allowed). Exit status: the command's, 127 if the runtime \
            could not find it, 126 if it could not run it (as podman's). ctrl-c and the other \
            signals ocictl gets go to the command unless --no-sig-proxy (with -t, ctrl-c is a \
            key for the command's terminal). --detach prints the session id and leaves the \
            command running; `ocictl attach --exec-id SESSION ID` attaches to it later, and \
            reports its exit code once it has ended.
            """)
    @OptionGroup var address: ShimAddress
    @Flag(name: [.customShort("t"), .long], help: "Give the command a pseudo-terminal.") var tty = false
    @Flag(name: [.customShort("i"), .long], help: "Send stdin to the command.") var interactive = false
    @Flag(name: [.customShort("d"), .long], help: "Leave the command running; print its session id.") var detach = false
    @Option(name: [.customShort("u"), .long], help: "user, uid, user:group or uid:gid, resolved in the container.") var user: String?
    @Option(name: [.customShort("e"), .long], help: "KEY=VALUE added to the environment (repeatable).") var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: "Working directory inside the container.") var cwd: String?
    @Option(name: .customLong("detach-keys"), help: "Detach key sequence, podman's syntax (\"\" disables).") var detachKeys: String?
    @Option(name: .customLong("exec-id"), help: "The session id (default: a random one).") var execID: String?
    @Flag(name: .customLong("no-sig-proxy"), help: "Do not forward signals to the command.") var noSigProxy = false
    @Argument(help: "The container id.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    var arguments: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        guard !arguments.isEmpty else { throw ValidationError("give the command to run after the container id") }
        for entry in env where !entry.contains("=") { throw ValidationError("--env \(entry) is not KEY=VALUE") }
        if let detachKeys { _ = try DetachKeySpec.bytes(detachKeys) }
    }

    private func request(_ session: String) -> Ocishim_V1_ExecRequest {
        .with {
            $0.execID = session
            $0.args = arguments
            $0.env = env
            $0.cwd = cwd ?? ""
            $0.user = user ?? ""
            $0.terminal = tty
            $0.stdin = interactive
        }
    }

    func run() throws {
        let session = execID ?? "ocictl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let client = try address.connect(id)
        defer { client.close() }
        client.timeoutSeconds = 60
        if detach {
            do {
                let _: Ocishim_V1_ExecResponse = try client.call("Exec", request(session))
            } catch {
                throw CLIError("exec in \(id)", error)
            }
            print(session)
            return
        }
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with {
            $0.options.stdin = interactive
            $0.options.stdout = true
            $0.options.stderr = true
            DetachKeySpec.apply(detachKeys, to: &$0.options)
            $0.options.exec = request(session)
        })
        let control = noSigProxy ? nil : try address.connect(id)
        defer { control?.close() }
        let outcome: AttachLoop.Outcome
        do {
            outcome = try AttachLoop(client: client, stream: stream, forwardStdin: interactive, remoteTerminal: tty,
                                     detachKeys: try DetachKeySpec.bytes(detachKeys),
                                     proxy: control.map { ExecSignals.proxy(through: $0, session: session) }).run()
        } catch {
            throw CLIError("exec in \(id)", error)
        }
        switch outcome {
        case .exited(let code):
            _ = try? client.call("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = session },
                                 as: Ocishim_V1_ExecCleanupResponse.self)
            throw ExitCode(code)
        case .detached:
            writeErr("\nocictl: detached from exec session \(session) (it keeps running; `ocictl attach --exec-id \(session) \(id)`)\n")
        case .ended:
            throw CLIError("the exec in \(id) ended without an exit code")
        }
    }
}

enum ExecSignals {
    /// Signals for an exec session's process, sent on `control` (a
    /// connection of its own: the attach's is read by the loop).
    static func proxy(through control: ShimClient, session: String) -> (Int32) -> Void {
        { signal in
            _ = try? control.call("Kill", Ocishim_V1_KillRequest.with {
                $0.signal = UInt32(signal)
                $0.execID = session
            }, as: Ocishim_V1_KillResponse.self)
        }
    }
}
