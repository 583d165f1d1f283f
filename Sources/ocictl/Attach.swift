import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// `ocictl attach [--exec-id S] ID`: the container's (or an exec session's)
/// output live, our stdin to it.
struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach to a running container's (or exec session's) stdio.",
        discussion: """
            Output streams until the process exits (ocictl then exits with its code) or the \
            detach keys are typed (default ctrl-p,ctrl-q; the process keeps running). With a \
            terminal on stdin and a process with a terminal, the local terminal is raw and \
            resizes follow the window. Without a terminal in the container, the local terminal \
            keeps its line editing, and the detach keys still take effect as they are typed. \
            ctrl-c and the other signals ocictl gets (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, \
            SIGUSR2) go to the process unless --no-sig-proxy. --exec-id attaches to a session of \
            `ocictl exec --detach`; one that has ended reports its exit code and is cleaned up.
            """)
    @OptionGroup var address: ShimAddress
    @Flag(name: .customLong("no-stdin"), help: "Do not send stdin to the process.") var noStdin = false
    @Option(name: .customLong("detach-keys"), help: "Detach key sequence, podman's syntax (\"\" disables).") var detachKeys: String?
    @Option(name: .customLong("exec-id"), help: "Attach to this exec session instead of the container.") var execID: String?
    @Flag(name: .customLong("no-sig-proxy"), help: "Do not forward signals to the process.") var noSigProxy = false
    @Argument(help: "The container id.") var id: String

    func validate() throws {
        if let detachKeys { _ = try DetachKeySpec.bytes(detachKeys) }
    }

    func run() throws {
        let client = try address.connect(id)
        defer { client.close() }
        client.timeoutSeconds = 30
        let (terminal, hasStdin) = try process(client)
        let stdin = !noStdin && hasStdin
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with {
            $0.options.execID = execID ?? ""
            $0.options.stdin = stdin
            $0.options.stdout = true
            $0.options.stderr = true
            DetachKeySpec.apply(detachKeys, to: &$0.options)
        })
        let control = noSigProxy ? nil : try address.connect(id)
        defer { control?.close() }
        let proxy: ((Int32) -> Void)? = control.map { control in
            if let execID { return ExecSignals.proxy(through: control, session: execID) }
            return { signal in
                _ = try? control.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = UInt32(signal) },
                                      as: Ocishim_V1_KillResponse.self)
            }
        }
        let outcome = try AttachLoop(client: client, stream: stream, forwardStdin: stdin, remoteTerminal: terminal,
                                     detachKeys: try DetachKeySpec.bytes(detachKeys), proxy: proxy).run()
        switch outcome {
        case .exited(let code):
            if let execID { cleanup(client, execID) }
            throw ExitCode(code)
        case .detached: writeErr("\nocictl: detached from \(execID.map { "exec session \($0) of " } ?? "")\(id)\n")
        case .ended: throw CLIError("the attach to \(id) ended without an exit")
        }
    }

    /// Whether the process has a terminal and a stdin; an exec session that
    /// has ended is reported (its exit code) and cleaned up instead.
    private func process(_ client: ShimClient) throws -> (terminal: Bool, stdin: Bool) {
        let state: Ocishim_V1_StateResponse = try client.call("State", Ocishim_V1_StateRequest())
        guard let execID else { return (state.terminal, true) }
        let session: Ocishim_V1_ExecStateResponse
        do {
            session = try client.call("ExecState", Ocishim_V1_ExecStateRequest.with { $0.execID = execID })
        } catch {
            throw CLIError("attach to exec session \(execID) of \(id)", error)
        }
        if !session.running {
            cleanup(client, execID)
            writeErr("ocictl: exec session \(execID) has ended (exit code \(session.exitCode))\n")
            throw ExitCode(session.exitCode)
        }
        return (session.terminal, session.stdin)
    }

    private func cleanup(_ client: ShimClient, _ execID: String) {
        _ = try? client.call("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = execID },
                             as: Ocishim_V1_ExecCleanupResponse.self)
    }
}
