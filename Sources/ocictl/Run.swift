import ArgumentParser
import Glibc
import ShimClient
import ShimCore
import ShimProtocol
import ShimSystem

/// create + attach + start + wait, like `runc run`: the container's stdio
/// is ocictl's (stdin with -s/-i or -t), the signals ocictl gets go to the
/// container, and ocictl exits with the container's code.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and start a container attached to it; exit with its code.",
        discussion: """
            Like `runc run`: the container's output is printed as it comes (whatever the log \
            driver, --log-driver none included), ocictl's stdin is the container's with -s/-i \
            (or -t), and SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to ocictl \
            (ctrl-c) go to the container, which decides what to do (a container's PID 1 \
            ignores the signals it has no handler for) unless --no-sig-proxy. With --rm the \
            container is deleted once it has exited. The detach keys (ctrl-p,ctrl-q) leave it \
            running (and, with --rm, not removed). -d creates and starts it and prints its pid.
            """)
    @OptionGroup var address: ShimAddress
    @OptionGroup var options: ContainerCreateOptions
    @Flag(name: .customLong("rm"), help: "Delete the container after it exits.") var remove = false
    @Flag(name: [.short, .long], help: "Start it in the background and print its pid (runc run -d).") var detach = false
    @Flag(name: .customLong("no-sig-proxy"), help: "Do not forward signals to the container.") var noSigProxy = false
    @Option(name: .customLong("detach-keys"), help: "Detach key sequence, podman's syntax (\"\" disables).") var detachKeys: String?
    @Argument(help: "The container id.") var id: String

    func validate() throws {
        if detach && remove { throw ValidationError("--rm needs ocictl to wait for the exit: not with -d") }
        if let detachKeys { _ = try DetachKeySpec.bytes(detachKeys) }
    }

    func run() throws {
        let (control, _) = try options.create(id: id, address: address)
        control.timeoutSeconds = 60
        if detach {
            defer { control.close() }
            let started: Ocishim_V1_StartResponse = try control.call("Start", Ocishim_V1_StartRequest())
            print(started.pid)
            return
        }
        let outcome: AttachLoop.Outcome
        do {
            outcome = try attachAndStart(control)
        } catch {
            if remove { delete(control) }
            control.close()
            throw error
        }
        switch outcome {
        case .exited(let code):
            if remove { delete(control) }
            control.close()
            throw ExitCode(code)
        case .detached:
            control.close()
            writeErr("\nocictl: detached from \(id); it keeps running\(remove ? " and will not be removed (`ocictl rm \(id)` once done)" : "")\n")
        case .ended:
            control.close()
            throw CLIError("the shim of \(id) went away before the container's exit was known (see \(address.stateDir(id))/shim.log)")
        }
    }

    /// Attaches first (on a connection of its own, confirmed by a round
    /// trip so no output is missed), then starts the container.
    private func attachAndStart(_ control: ShimClient) throws -> AttachLoop.Outcome {
        let client = try ShimClient.connect(stateDir: address.stateDir(id))
        defer { client.close() }
        client.timeoutSeconds = 60
        let stdin = options.stdin || options.tty
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with {
            $0.options.stdin = stdin
            $0.options.stdout = true
            $0.options.stderr = true
            DetachKeySpec.apply(detachKeys, to: &$0.options)
        })
        // The shim handles one connection's frames in order: once State is
        // answered, the attach has joined.
        let _: Ocishim_V1_StateResponse = try client.call("State", Ocishim_V1_StateRequest())
        let proxy: ((Int32) -> Void)? = noSigProxy ? nil : { signal in
            _ = try? control.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = UInt32(signal) },
                                  as: Ocishim_V1_KillResponse.self)
        }
        let loop = try AttachLoop(client: client, stream: stream, forwardStdin: stdin, remoteTerminal: options.tty,
                                  detachKeys: try DetachKeySpec.bytes(detachKeys), proxy: proxy)
        if options.tty { loop.sendSize() }
        if proxy != nil { AttachLoop.holdProxiedSignals() }
        let _: Ocishim_V1_StartResponse = try control.call("Start", Ocishim_V1_StartRequest())
        return try loop.run()
    }

    private func delete(_ control: ShimClient) {
        do {
            let _: Ocishim_V1_DeleteResponse = try control.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
            waitForRemoval(address.stateDir(id))
        } catch {
            writeErr("ocictl: --rm: \(Failure(error).message)\n")
        }
    }
}

/// `--detach-keys` as the Attach options and the bytes AttachLoop needs.
enum DetachKeySpec {
    static func bytes(_ spec: String?) throws -> [UInt8] {
        guard let spec else { return DetachKeys.default.bytes }
        do { return try DetachKeys.parse(spec).bytes } catch { throw ValidationError("--detach-keys: \(error.message)") }
    }

    static func apply(_ spec: String?, to options: inout Ocishim_V1_AttachOptions) {
        guard let spec else { return }
        if spec.isEmpty { options.noDetachKeys = true } else { options.detachKeys = spec }
    }
}
