import Glibc

/// One container under a monitor, driven the way an engine drives it.
protocol MonitoredContainer: AnyObject {
    var id: String { get }
    /// The monitor process (the shim, or conmon's monitor).
    var monitorPid: pid_t { get }
    /// CPU time of the process the engine started, which exited once the
    /// monitor was up (`ocishim serve`'s first process, conmon's first).
    var launcherCPUSeconds: Double { get }
    var logPath: String { get }
    func start() throws
    /// Blocks until the monitor has recorded the exit (Wait answered, or
    /// the exit file written).
    func waitExitRecorded() throws
    /// One status query the way an engine makes it: ocishim's State rpc,
    /// for conmon `runc state`.
    func queryState(refresh: Bool) throws
    /// The engine goes away; the container and its monitor stay.
    func disconnect()
    /// The engine connects again (ocishim: to the shim's socket; conmon has
    /// nothing to connect to).
    func connect() throws
    /// Removes the container as podman's `rm --force` does and waits for the
    /// monitor to exit: SIGKILL, the exit recorded, then the runtime's
    /// delete (ocishim: Stop with SIGKILL at once, then Delete; conmon:
    /// `runc kill`, the exit file, `runc delete --force`).
    /// Unlike `destroy`, nothing more: what this leaves behind is measured.
    func remove() throws
    /// Kills and deletes the container; the monitor exits and is reaped.
    func destroy()
}

/// What a monitor is asked to create.
struct ContainerSpec {
    var id: String
    var bundle: String
    var logPath: String
    /// For the monitor's own files (state dir, exit dir, sockets).
    var dir: String
}

protocol Monitor: Sendable {
    var name: String { get }
    /// Creates the container: returns once it is created (not started).
    func create(_ spec: ContainerSpec) throws -> MonitoredContainer
}
