import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// `ocictl attach ID`: the container's output live, our stdin to it.
struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach to a running container's stdio.",
        discussion: """
            Output streams until the container exits (ocictl then exits with its code) or the \
            detach keys are typed (default ctrl-p,ctrl-q; the container keeps running). With a \
            terminal on stdin and a container with a terminal, the local terminal is raw and \
            resizes follow the window.
            """)
    @OptionGroup var address: ShimAddress
    @Flag(name: .customLong("no-stdin"), help: "Do not send stdin to the container.") var noStdin = false
    @Option(name: .customLong("detach-keys"), help: "Detach key sequence, podman's syntax (\"\" disables).") var detachKeys: String?
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let client = try address.connect(id)
        client.timeoutSeconds = 30
        let state: Ocishim_V1_StateResponse = try client.call("State", Ocishim_V1_StateRequest())
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with {
            $0.options.stdin = !noStdin
            $0.options.stdout = true
            $0.options.stderr = true
            if let detachKeys {
                if detachKeys.isEmpty { $0.options.noDetachKeys = true } else { $0.options.detachKeys = detachKeys }
            }
        })
        let outcome = try AttachLoop(client: client, stream: stream, forwardStdin: !noStdin, remoteTerminal: state.terminal).run()
        client.close()
        switch outcome {
        case .exited(let code): throw ExitCode(code)
        case .detached: writeErr("\nocictl: detached from \(id)\n")
        case .ended: throw CLIError("the attach to \(id) ended without an exit")
        }
    }
}
