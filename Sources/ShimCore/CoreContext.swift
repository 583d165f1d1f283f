import Glibc
import Logging
import ShimSystem

/// What every part of the core shares: the loop and its monitor, the shim's
/// configuration, the event log. One per shim.
final class CoreContext {
    let config: ShimConfig
    let runtime: ResolvedRuntime
    let loop: EventLoop
    /// The processes the shim reaps and signals (its ChildReaper).
    let processes: any ProcessTable
    let runner: CommandRunner
    /// Builds the runtime of a container from its settings.
    let makeRuntime: RuntimeFactory
    let scratch: ScratchBuffer
    let events: EventLog
    let environment: RuntimeEnvironment
    /// The shim's whole environment, for the exit command (conmon execs it
    /// with the environment it inherited from the engine).
    let processEnvironment: [String]
    let log: Logger
    /// The cgroup parent the shim moved itself under (to leave at exit).
    var placedCgroupParent: String?
    /// Told when reading a process's output fails (the errno; EIO when a
    /// terminal's last slave fd closed): the end of that output, which a
    /// front end may report as conmon does.
    var outputReadFailed: ((_ execID: String?, _ stream: LogStream, _ errno: Int32) -> Void)?

    init(config: ShimConfig, runtime: ResolvedRuntime, loop: EventLoop, processes: any ProcessTable,
         scratch: ScratchBuffer, events: EventLog, environment: RuntimeEnvironment,
         makeRuntime: RuntimeFactory? = nil) {
        self.config = config
        self.runtime = runtime
        self.loop = loop
        self.processes = processes
        let runner = CommandRunner(loop: loop, reaper: processes)
        self.runner = runner
        let logs = RuntimeLogFiles(dir: FileSystem.join(config.stateDir, "runtime"))
        self.makeRuntime = makeRuntime ?? { settings in
            RuntimeCommandLine(settings: settings, runner: runner, logs: logs)
        }
        self.scratch = scratch
        self.events = events
        self.environment = environment
        self.processEnvironment = ProcessEnvironment.current()
        self.log = Logger(label: "ocishim.core")
    }

    var runtimeTimeoutNanos: Int64 { Clock.nanos(fromSeconds: config.runtimeTimeoutSeconds) }

    @discardableResult
    func emit(_ kind: ContainerEvent.Kind, _ fill: (inout ContainerEvent) -> Void = { _ in }) -> ContainerEvent {
        events.emit(kind, containerID: config.containerID, timestamp: Clock.realtimeNanos(), fill)
    }
}
