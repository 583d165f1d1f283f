import Glibc
import Logging
import ShimCore
import ShimSystem

/// The monitor process after it has detached: one event loop carrying the
/// signals, the reaper and the runtime core, as `ocishim serve` has, but no
/// server: the engine talks to it through the sync pipe and the files and
/// sockets conmon provides. Lives until the container has exited, its exit
/// is recorded and the exit command has run.
final class Monitor {
    let plan: MonitorPlan
    let pipes: ParentPipes
    let stateDir: String
    let loop: EventLoop
    private let signals: SignalSource
    let reaper: ChildReaper
    private let scratch = ScratchBuffer()
    let core: RuntimeCore
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
        SignalSource.ignore([SIGPIPE, SIGHUP])
        do {
            try FileSystem.createDirectory(stateDir, mode: 0o700)
            loop = try EventLoop()
            signals = try SignalSource(loop: loop)
            reaper = try ChildReaper(loop: loop, signals: signals)
        } catch {
            throw ConmonError("cannot set up the monitor: \(error)")
        }
        do {
            core = try RuntimeCore(config: plan.shimConfig(stateDir: stateDir, keepFDs: keepFDs),
                                   loop: loop, reaper: reaper, scratch: scratch)
        } catch {
            throw ConmonError(core: error)
        }
        // A quiet monitor gives back the memory only busy moments need.
        loop.onIdle = { [unowned self] in core.releaseIdleMemory() }
        // conmon forwards these to the container; the exit follows as usual.
        for signal in [SIGTERM, SIGINT, SIGQUIT] {
            do {
                try signals.on(signal) { [unowned self] delivery in self.terminationSignal(delivery.signal) }
            } catch {
                throw ConmonError("cannot handle signal \(signal): \(error)")
            }
        }
    }

    /// Creates (or restores) the container, or runs the exec session,
    /// reports on the sync pipe, and runs until the end; returns the
    /// monitor's exit status.
    func run(passthroughStdio: [Int32]) -> Int32 {
        if plan.mode == .exec {
            runExec()
        } else {
            create(passthroughStdio: passthroughStdio)
        }
        while exitStatus == nil { loop.turn(maxWaitMillis: -1) }
        try? FileSystem.removeTree(stateDir)
        return exitStatus ?? 1
    }

    private func create(passthroughStdio: [Int32]) {
        let options = plan.createOptions(passthroughStdio: passthroughStdio)
        core.create(options) { [self] result in
            for fd in passthroughStdio { close(fd) }
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
        let failure = RuntimeLogMessage.read(plan.engineRuntimeLog).map(ConmonError.init) ?? ConmonError(core: error)
        log.error("failed to \(what): \(failure.message)")
        pipes.report(-1, message: failure.message)
        runExitCommand { [self] in finish(1) }
    }

    /// The exit command of the command line, outside the core's container
    /// (exec sessions, failures); `done` once it has finished.
    func runExitCommand(_ done: @escaping () -> Void) {
        guard let command = plan.options.exitCommand else { return done() }
        ExitCommand.run([command] + plan.options.exitCommandArgs,
                        delaySeconds: UInt32(clamping: plan.options.exitDelay),
                        environment: ProcessEnvironment.current(), loop: loop, reaper: reaper, log: log,
                        label: "container \(plan.containerID)") { _ in done() }
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
        _ = core.wait { [self] result in
            guard case .success(let exit) = result else { return finish(1) }
            log.debug("container \(plan.containerID) exited with \(exit.exitCode)")
            core.afterExitCommand { [self] _ in
                afterAttachClientsDrained(execID: nil) { [self] in
                    // conmon removes the <socket-dir>/<cuuid> link as it exits.
                    core.closeAttachEndpoints()
                    finish(timedOut ? -1 : exit.exitCode)
                }
            }
        }
    }

    /// Attach clients get the rest of the output before the monitor exits
    /// (conmon writes to them synchronously; the core queues), for at most
    /// the core's grace period plus a little.
    func afterAttachClientsDrained(execID: String?, _ done: @escaping () -> Void) {
        let deadline = Clock.monotonicNanos() + 12_000_000_000
        func check() {
            let waiting = core.attachSocketClients(execID: execID)
            if waiting == 0 || Clock.monotonicNanos() > deadline {
                if waiting > 0 { log.warning("exiting with \(waiting) attach client(s) not drained") }
                return done()
            }
            loop.schedule(afterSeconds: 0.02, check)
        }
        check()
    }

    /// conmon forwards SIGTERM, SIGINT and SIGQUIT to the process it
    /// monitors: the container, or the exec session's process.
    private func terminationSignal(_ signal: Int32) {
        if plan.mode == .exec {
            guard execRunning else { return log.info("signal \(signal) before the exec process runs: ignored") }
            do throws(CoreError) { try core.execSignal(plan.containerUUID, signal: signal) } catch {
                log.warning("cannot forward signal \(signal) to the exec process: \(error)")
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

/// The last error a runtime wrote to a `--log-format=json` log: one JSON
/// object per line, `msg` the text (the seed's readConmonPipeData reads the
/// same file).
enum RuntimeLogMessage {
    static func read(_ path: String?) -> String? {
        guard let path, let bytes = try? FileSystem.readIfExists(path, limit: 1 << 20) else { return nil }
        var message: String?
        for line in bytes.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let record = try? JSONValue(parsing: Array(line)), let text = record["msg"]?.stringValue else { continue }
            let level = record["level"]?.stringValue ?? "error"
            if level == "error" || level == "fatal" || level == "panic" { message = text }
        }
        return message
    }
}
