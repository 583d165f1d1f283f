import Logging
import ShimSystem

/// The files through which an engine attaches to and controls one process,
/// laid out as conmon lays them out (podman's ConmonOCIRuntime talks to them
/// directly): the attach socket `<dir>/attach` (linked from
/// `<socket-dir>/<name>` unless `fullAttach`), the control FIFO `<dir>/ctl`
/// (resize, reopen the log) and, for the container's terminal, the window
/// size FIFO `<dir>/winsz`. The container's live in its bundle; an exec
/// session's in the session's directory.
///
/// They are made before the runtime runs (conmon's order: the socket, then
/// `ctl`, then `winsz`, then the runtime), so an engine can connect as soon
/// as it knows the path; the process they belong to comes later
/// (`processBegan`).
final class AttachEndpoints {
    struct Layout {
        /// Where the socket file and the FIFOs are.
        var dir: String
        var socketDir: String
        /// The link's name in `socketDir` (the container or session id, or
        /// conmon's --cuuid).
        var linkName: String
        var fullAttach: Bool
        var controlFIFO: Bool
        var windowSizeFIFO: Bool
        /// false: no attach socket (only the FIFOs, if any).
        var attachSocket = true
        /// The socket-dir link stays when the socket goes.
        var linkStays = false
        /// Socket clients are accepted before the process exists; false:
        /// they wait in the listen backlog until `processBegan`.
        var acceptBeforeProcess = true
    }

    private var socket: AttachSocket?
    private var control: ControlFIFO?
    private var windowSize: ControlFIFO?

    /// Creates the endpoints; on failure nothing is left behind.
    init(_ layout: Layout, hub: AttachHub, context: CoreContext,
         onControl: @escaping (ControlCommand) -> Void) throws(CoreError) {
        do throws(CoreError) {
            if layout.attachSocket {
                socket = try AttachSocket(realDir: layout.dir, socketDir: layout.socketDir, name: layout.linkName,
                                          fullAttach: layout.fullAttach, linkStays: layout.linkStays,
                                          acceptsBeforeProcess: layout.acceptBeforeProcess, hub: hub, loop: context.loop,
                                          scratch: context.scratch, log: context.log)
            }
            if layout.controlFIFO {
                control = try ControlFIFO(path: FileSystem.join(layout.dir, "ctl"),
                                          parse: { ControlCommand.parseControl($0) },
                                          loop: context.loop, log: context.log, handler: onControl)
            }
            if layout.windowSizeFIFO {
                windowSize = try ControlFIFO(path: FileSystem.join(layout.dir, "winsz"),
                                             parse: { ControlCommand.parseWindowSize($0) },
                                             loop: context.loop, log: context.log, handler: onControl)
            }
        } catch {
            close()
            throw error
        }
    }

    /// The path engines connect to.
    var socketPath: String? { socket?.path }

    /// Clients of the attach socket (after the exit: those still being sent
    /// the rest of the output).
    var socketClientCount: Int { socket?.clientCount ?? 0 }

    /// The process exited: clients waiting to be accepted join before its
    /// last output is drained.
    func acceptWaitingClients() { socket?.acceptWaiting() }

    /// The process exists (before its output is read): socket clients that
    /// waited for it are accepted.
    func processBegan() { socket?.startAccepting() }

    /// Calls `body` once every socket client has been sent its output and
    /// closed (or dropped at the end of its grace period).
    func whenClientsDrained(_ body: @escaping () -> Void) {
        guard let socket else { return body() }
        socket.whenDrained(body)
    }

    /// The process has ended: no more control lines (the attach socket
    /// stays until its clients have their output).
    func closeControl() {
        control?.close()
        control = nil
        windowSize?.close()
        windowSize = nil
    }

    /// Removes the socket, its link and the FIFOs; clients still connected
    /// are cut. `keepingFiles`: the fds are closed, the files stay (a failed
    /// create whose engine expects them: CreateOptions.keepEndpointsAfterFailure).
    func close(keepingFiles: Bool = false) {
        socket?.close(keepingFiles: keepingFiles)
        socket = nil
        control?.close(keepingFile: keepingFiles)
        control = nil
        windowSize?.close(keepingFile: keepingFiles)
        windowSize = nil
    }
}
