import Glibc
import Logging
import ShimCore
import ShimSystem

/// The monitor process after it has detached: a ShimHost (loop, signals,
/// reaper, core), as `ocishim serve` has, but no server: the engine talks
/// to it through the sync pipe and the files and sockets conmon provides.
/// Lives until the container (or exec session) has exited, its exit is
/// recorded, the exit command has run and its attach clients have their
/// output.
final class Monitor {
    let plan: MonitorPlan
    let pipes: ParentPipes
    let stateDir: String
    let host: ShimHost
    var loop: EventLoop { host.loop }
    var core: RuntimeCore { host.core }
    let log = Logger(label: "ocishim.conmon")
    private var exitStatus: Int32?
    private var timedOut = false
    /// The runtime created the container, or started the exec process (the
    /// engine got its pid).
    var created = false
    /// Exec mode: the session's process is running (signals go to it).
    var execRunning = false

    init(plan: MonitorPlan, pipes: ParentPipes, stateDir: String, keepFDs: [Int32]) throws(ConmonError) {
        self.plan = plan
        self.pipes = pipes
        self.stateDir = stateDir
        do { try FileSystem.createDirectory(stateDir, mode: 0o700) } catch {
            throw ConmonError("cannot set up the monitor: \(error)")
        }
        do throws(CoreError) {
            host = try ShimHost(config: plan.shimConfig(stateDir: stateDir, keepFDs: keepFDs))
        } catch {
            throw ConmonError(core: error)
        }
        // conmon forwards these to the process it monitors; the exit
        // follows as usual.
        do throws(CoreError) {
            try host.onSignals([SIGTERM, SIGINT, SIGQUIT]) { [unowned self] signal in self.terminationSignal(signal) }
        } catch {
            throw ConmonError(core: error)
        }
    }

    /// Creates (or restores) the container, or runs the exec session,
    /// reports on the sync pipe, and runs until the end; returns the
    /// monitor's exit status.
    func run(providedStdio: [Int32]) -> Int32 {
        if plan.mode == .exec {
            runExec()
        } else {
            create(providedStdio: providedStdio)
        }
        while exitStatus == nil { loop.turn(maxWaitMillis: -1) }
        try? FileSystem.removeTree(stateDir)
        return exitStatus ?? 1
    }

    private func create(providedStdio: [Int32]) {
        let options = plan.createOptions(providedStdio: providedStdio)
        core.create(options) { [self] result in
            for fd in providedStdio { close(fd) }
            switch result {
            case .failure(let error):
                runtimeFailed(error, what: "create container \(plan.containerID)")
            case .success(let pid):
                log.debug("container \(plan.containerID) created, pid \(pid)")
                created = true
                pipes.report(Int64(pid))
                monitorExit(pid: pid)
            }
        }
    }

    /// The runtime refused: its own text to the engine; then, as conmon
    /// (whose exit command is an atexit handler by then), the exit command,
    /// and the monitor ends.
    func runtimeFailed(_ error: CoreError, what: String) {
        let engineLog = plan.engineRuntimeLog.flatMap { try? FileSystem.readIfExists($0, limit: 1 << 20) }
        let failure = engineLog.flatMap { RuntimeFailure.messageFromJSONLog($0, errorsOnly: true) }.map(ConmonError.init)
            ?? ConmonError(core: error)
        log.error("failed to \(what): \(failure.message)")
        pipes.report(-1, message: failure.message)
        runExitCommand { [self] in finish(1) }
    }

    /// The exit command of the command line when there is no process to
    /// record an exit for (the runtime failed); `done` once it has finished.
    func runExitCommand(_ done: @escaping () -> Void) {
        guard let command = plan.exitCommand else { return done() }
        ExitCommand.run(command.argv, delaySeconds: command.delaySeconds, environment: ProcessEnvironment.current(),
                        loop: loop, reaper: host.reaper, log: log, label: "container \(plan.containerID)") { _ in done() }
    }

    private func monitorExit(pid: Int32) {
        if plan.options.timeout > 0 {
            loop.schedule(afterSeconds: Double(plan.options.timeout)) { [self] in
                guard exitStatus == nil, core.snapshot.exitCode == nil else { return }
                timedOut = true
                log.info("timed out after \(plan.options.timeout)s, killing container \(plan.containerID)")
                // conmon kills the container's process group, else its pid.
                let group = getpgid(pid)
                _ = group > 1 ? Glibc.kill(-group, SIGKILL) : Glibc.kill(pid, SIGKILL)
            }
        }
        core.wait { [self] result in
            guard case .success(let exit) = result else { return finish(1) }
            log.debug("container \(plan.containerID) exited with \(exit.exitCode)")
            core.whenSettled { [self] _ in
                core.whenAttachClientsDrained { [self] in
                    // conmon removes the <socket-dir>/<cuuid> link as it exits.
                    core.closeAttachEndpoints()
                    finish(timedOut ? -1 : exit.exitCode)
                }
            }
        }
    }

    /// conmon forwards SIGTERM, SIGINT and SIGQUIT to the process it
    /// monitors: the container, or the exec session's process.
    private func terminationSignal(_ signal: Int32) {
        if plan.mode == .exec {
            guard execRunning else { return log.info("signal \(signal) before the exec process runs: ignored") }
            core.kill(execID: plan.containerUUID, signal: signal, all: false) { [log] result in
                if case .failure(let error) = result { log.warning("cannot forward signal \(signal) to the exec process: \(error)") }
            }
            return
        }
        if core.terminationSignal(signal) { finish(1) }
    }

    func finish(_ status: Int32) {
        guard exitStatus == nil else { return }
        exitStatus = status
    }
}
