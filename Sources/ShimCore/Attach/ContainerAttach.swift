import Logging
import ShimSystem

/// Everything attach-related the container has while it lives: the hub of
/// its stdio, conmon's attach socket and the control FIFOs `<bundle>/ctl`
/// (resize, reopen log) and, for a terminal, `<bundle>/winsz`.
final class ContainerAttach {
    let hub: AttachHub
    let detachKeys: DetachKeys
    private var socket: ConmonAttachSocket?
    private var control: ControlFIFO?
    private var windowSize: ControlFIFO?
    private var listenerToken: Int?
    private weak var container: Container?

    /// Set up once the runtime created the container and its stdio is known.
    init(container: Container, io: ContainerIO) throws(CoreError) {
        self.container = container
        let context = container.context
        let terminal = io.mode == .terminal
        detachKeys = try DetachKeys.parse(container.options.detachKeys.isEmpty ? DetachKeys.defaultSpec : container.options.detachKeys)
        hub = AttachHub(label: "container \(container.id)", terminal: terminal,
                        stdin: io.hasStdin && (container.options.stdin || terminal),
                        closeStdinOnClientEOF: container.options.stdin && !container.options.leaveStdinOpen,
                        backlogCapacity: nil, loop: context.loop, log: context.log)
        hub.stdin?.onClose = { [weak io] in io?.closeStdin() }
        hub.stdin?.connect(io.stdinFD)
        if terminal {
            hub.resizer = { [weak io] rows, columns throws(CoreError) in
                guard let io else { throw .precondition("the container's terminal is closed") }
                try io.resize(rows: rows, columns: columns)
            }
        }
        listenerToken = container.addOutputListener { [hub] stream, chunk in hub.output(stream, chunk) }
        do {
            socket = try ConmonAttachSocket(realDir: container.paths.bundle, socketDir: container.paths.socketDir,
                                            name: container.paths.attachName, fullAttach: container.options.fullAttach,
                                            hub: hub, loop: context.loop, scratch: context.scratch, log: context.log)
            control = try ControlFIFO(path: FileSystem.join(container.paths.bundle, "ctl"),
                                      parse: { ControlCommand.parseControl($0) },
                                      loop: context.loop, log: context.log) { [weak self] in self?.control($0) }
            if terminal {
                windowSize = try ControlFIFO(path: FileSystem.join(container.paths.bundle, "winsz"),
                                             parse: { ControlCommand.parseWindowSize($0) },
                                             loop: context.loop, log: context.log) { [weak self] in self?.control($0) }
            }
        } catch {
            close()
            throw error
        }
    }

    var attachSocketPath: String? { socket?.path }
    /// Clients of the attach socket (after the exit: those still being sent
    /// the rest of the output).
    var socketClientCount: Int { socket?.clientCount ?? 0 }

    private func control(_ command: ControlCommand) {
        guard let container else { return }
        switch command {
        case .resize(let rows, let columns):
            do throws(CoreError) {
                try hub.resize(rows: rows, columns: columns)
            } catch {
                container.log.warning("container \(container.id): resize from the control FIFO: \(error)")
            }
        case .reopenLog:
            do throws(CoreError) {
                try container.logger?.reopen()
            } catch {
                container.log.warning("container \(container.id): reopening the log: \(error)")
            }
        }
    }

    /// The container exited: clients waiting to be accepted join before its
    /// last output is drained.
    func acceptWaitingClients() { socket?.acceptWaiting() }

    /// The container exited (its output drained).
    func ended(exitCode: Int32) {
        hub.ended(exitCode: exitCode)
    }

    func close() {
        if let listenerToken { container?.removeOutputListener(listenerToken) }
        listenerToken = nil
        hub.close()
        socket?.close()
        socket = nil
        control?.close()
        control = nil
        windowSize?.close()
        windowSize = nil
    }
}
