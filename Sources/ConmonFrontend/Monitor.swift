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
    private let loop: EventLoop
    private let signals: SignalSource
    private let reaper: ChildReaper
    private let scratch = ScratchBuffer()
    private let core: RuntimeCore
    private let log = Logger(label: "ocishim.conmon")
    private var exitStatus: Int32?
    private var timedOut = false
    /// The runtime created the container (the engine got its pid).
    private(set) var created = false

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
        // conmon forwards these to the container; the exit follows as usual.
        for signal in [SIGTERM, SIGINT, SIGQUIT] {
            do {
                try signals.on(signal) { [unowned self] delivery in self.terminationSignal(delivery.signal) }
            } catch {
                throw ConmonError("cannot handle signal \(signal): \(error)")
            }
        }
    }

    /// Creates (or restores) the container, reports on the sync pipe, and
    /// runs until the end; returns the monitor's exit status.
    func run(passthroughStdio: [Int32]) -> Int32 {
        let options = plan.createOptions(passthroughStdio: passthroughStdio)
        core.create(options) { [self] result in
            for fd in passthroughStdio { close(fd) }
            switch result {
            case .failure(let error):
                let failure = RuntimeLogMessage.read(plan.engineRuntimeLog).map(ConmonError.init) ?? ConmonError(core: error)
                log.error("failed to create container \(plan.containerID): \(failure.message)")
                pipes.report(-1, message: failure.message)
                finish(1)
            case .success(let pid):
                log.debug("container \(plan.containerID) created, pid \(pid)")
                created = true
                pipes.report(Int64(pid))
                monitorExit(pid: pid)
            }
        }
        while exitStatus == nil { loop.turn(maxWaitMillis: -1) }
        try? FileSystem.removeTree(stateDir)
        return exitStatus ?? 1
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
                finish(timedOut ? -1 : exit.exitCode)
            }
        }
    }

    private func terminationSignal(_ signal: Int32) {
        if core.terminationSignal(signal) { finish(1) }
    }

    private func finish(_ status: Int32) {
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
