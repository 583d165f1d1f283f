import Glibc
import Logging
import ShimCore
import ShimSystem
import SystemPackage

/// The monitor process after it has detached: a ShimHost (loop, signals,
/// reaper, core), as `ocishim serve` has, but no server: the engine talks
/// to it through the sync pipe and the files and sockets conmon provides.
/// It ends as conmon's main() ends: the exit files, the exec's exit code on
/// the sync pipe, the attach socket removed, then (conmon's atexit handler)
/// the exit command, whose failure status becomes the monitor's.
final class Monitor {
    let plan: MonitorPlan
    var pipes = ParentPipes()
    let stateDir: String
    let host: ShimHost
    let keepFDs: [FileDescriptor]
    var loop: EventLoop { host.loop }
    var core: RuntimeCore { host.core }
    let log = Logger(label: "ocishim.conmon")
    private var exitStatus: Int32?
    var control: ConmonControl?
    private var notifyRelay: SdNotifyRelay?
    /// -T fired (the container's timeout; an exec's is the core's).
    var timedOut = false
    /// Exec mode: the session's process is running (signals go to it).
    var execRunning = false

    init(plan: MonitorPlan, stateDir: String, keepFDs: [FileDescriptor]) throws(ConmonFailure) {
        self.plan = plan
        self.stateDir = stateDir
        self.keepFDs = keepFDs
        do { try FileSystem.createDirectory(stateDir, mode: 0o700) } catch {
            throw .pexitf("Failed to create the monitor's state directory \(stateDir)", errno: error.errno.rawValue)
        }
        do throws(CoreError) {
            host = try ShimHost(config: plan.shimConfig(stateDir: stateDir, keepFDs: keepFDs))
            // conmon forwards these to the process it monitors; the exit
            // follows as usual.
            try host.onSignals([SIGTERM, SIGINT, SIGQUIT]) { [unowned self] signal in terminationSignal(signal) }
        } catch {
            try? FileSystem.removeTree(stateDir)
            throw .nexitf(error.message)
        }
        host.core.onOutputReadFailed = { _, _, code in
            ConmonLog.nwarnf("stdio_input read failed \(ConmonLog.strerror(code))")
        }
    }

    /// --sdnotify-socket (before the sync pipe is looked at, as in conmon).
    func relaySdNotify(bundle: String, hostSocket: String) throws(ConmonFailure) {
        notifyRelay = try SdNotifyRelay(bundle: bundle, hostSocket: hostSocket, loop: loop)
    }

    /// Creates (or restores) the container, or runs the exec session,
    /// reports on the sync pipe, and runs until the end; returns the
    /// monitor's exit status.
    func run(providedStdio: [FileDescriptor]) -> Int32 {
        if plan.mode == .exec {
            runExec(providedStdio: providedStdio)
        } else {
            create(providedStdio: providedStdio)
        }
        // Work deferred to the next turn may be what ends the monitor: the
        // turn must not then wait (up to the loop's idle second) for fds.
        while exitStatus == nil { loop.turn(maxWaitMillis: -1) { [self] in exitStatus != nil } }
        notifyRelay?.stop()
        control?.stop()
        try? FileSystem.removeTree(stateDir)
        return exitStatus ?? 1
    }

    // --- before the runtime ---------------------------------------------------------------

    /// conmon's attach setup before the runtime runs, in conmon's order
    /// (src/conmon.c main, setup_attach_socket then
    /// setup_terminal_control_fifo and setup_console_fifo): first the
    /// `<socket-dir>/<cuuid>` link to the bundle (unless --full-attach)...
    /// A failure ends the monitor, with nothing run yet.
    func makeAttachLink(bundle: String) {
        guard !plan.passthrough, !plan.options.fullAttach else { return }
        var link = FileSystem.join(plan.options.socketDirPath, plan.containerUUID ?? "")
        // conmon's corner case: a link as long as a socket path may be.
        if link.utf8.count == 107 { link = String(decoding: link.utf8.prefix(106), as: UTF8.self) }
        if unlink(link) != 0 && errno != ENOENT {
            die(.pexitf("Failed to remove existing symlink for socket directory \(link)"))
        }
        if symlink(bundle, link) != 0 { die(.pexit("Failed to create symlink for notify socket")) }
    }

    /// ...then the attach socket, which the core makes (listening before
    /// the runtime runs), then the control FIFOs `ctl` and `winsz`.
    func setUpControl(bundle: String, execID: String?) {
        guard !plan.passthrough else { return }
        do {
            let control = try ConmonControl(bundle: bundle, loop: loop)
            control.resize = { [unowned self] rows, columns in
                try core.resize(execID: execID, rows: rows, columns: columns)
            }
            control.reopenLog = { [unowned self] in
                core.reopenLog(execID: execID) { result in
                    if case .failure(let error) = result { ConmonLog.ndebugf("reopening the log: \(error)") }
                }
            }
            self.control = control
        } catch {
            die(error)
        }
    }

    /// Ends the monitor on one of conmon's fatal errors before anything ran.
    func die(_ failure: ConmonFailure) -> Never {
        try? FileSystem.removeTree(stateDir)
        failure.exit()
    }

    /// LISTEN_PID as conmon's runtime child reads it.
    enum ListenPid {
        case unset
        /// The runtime takes LISTEN_FDS as its own: LISTEN_PID names the
        /// monitor, or --replace-listen-pid.
        case valid(replace: Bool)
        /// Not a pid (conmon's child exits with its message on the
        /// runtime's stderr): `shown` as conmon prints it, strtol's errno.
        case invalid(shown: String, code: Int32)
    }

    func listenPid() -> ListenPid {
        guard let text = ParentPipes.processVariable("LISTEN_PID") else { return .unset }
        let parsed = CNumber.strtol(Array(text.utf8), base: 10)
        guard let parsed, !parsed.overflow, parsed.value > 0 else {
            return .invalid(shown: String(decoding: text.utf8.prefix(10), as: UTF8.self),
                            code: parsed?.overflow == true ? ERANGE : 0)
        }
        return .valid(replace: plan.options.replaceListenPid || parsed.value == Int64(getpid()))
    }

    /// conmon's child dies of an invalid LISTEN_PID where the runtime would
    /// run: its message in syslog, and on the runtime's stderr, which the
    /// monitor passes on as a failed runtime's.
    func invalidListenPid(shown: String, code: Int32) -> CoreError {
        ConmonLog.syslogOnly(tag: "error", "Invalid LISTEN_PID \(shown): \(ConmonLog.strerror(code))\n")
        var error = CoreError(.runtimeFailed, "Invalid LISTEN_PID \(shown)")
        error.runtimeOutput = Array("[conmon:e]: Invalid LISTEN_PID \(shown) \(ConmonLog.strerror(code))\n".utf8)
        error.runtimeStatus = 1
        return error
    }

    // --- create ------------------------------------------------------------------------------

    private func create(providedStdio: [FileDescriptor]) {
        if let bundle = plan.bundle { makeAttachLink(bundle: bundle) }
        var options = plan.createOptions(providedStdio: providedStdio)
        options.runtimeFDs = keepFDs
        options.runtimeEnvironment = ProcessEnvironment.current()
        let listen = listenPid()
        if case .valid(let replace) = listen { options.runtimeListenPid = replace }
        // The core makes the attach socket; conmon's FIFOs follow it, and
        // then what conmon's runtime child checks first.
        let beforeRuntime = { [self] () throws(CoreError) -> Void in
            if let bundle = plan.bundle { setUpControl(bundle: bundle, execID: nil) }
            if case .invalid(let shown, let code) = listen { throw invalidListenPid(shown: shown, code: code) }
        }
        core.create(options, beforeRuntime: beforeRuntime) { [self] result in
            for fd in providedStdio { try? fd.close() }
            switch result {
            case .failure(let error):
                runtimeFailed(error)
            case .success(let pid):
                ConmonLog.ndebugf("container PID: \(pid)")
                pipes.report(Int64(pid))
                if plan.options.terminal { control?.startWindowSize() }
                monitorExit(pid: pid)
            }
        }
    }

    /// The runtime failed (or its pid file cannot be read): conmon's
    /// words, the runtime's stderr to the engine, then the exit command.
    func runtimeFailed(_ error: CoreError) {
        if let status = error.runtimeStatus {
            if let output = error.runtimeOutput, !output.isEmpty {
                let text = String(decoding: output, as: UTF8.self)
                ConmonLog.nwarnf("runtime stderr: \(text)")
                pipes.report(-1, message: text)
            }
            ConmonLog.exitMessage("Failed to create container: exit status \(status)")
        } else if plan.mode != .exec, error.message.contains("left no valid pid file"), let failure = unreadablePidFile() {
            ConmonLog.nwarnf("Failed to read pidfile: \(failure)")
        } else {
            // Ours, not the runtime's (conmon has no such failure): the
            // engine hears why on the pipe.
            ConmonLog.exitMessage(error.message)
            pipes.report(-1, message: error.message)
        }
        exitThroughCommand(1)
    }

    /// glib's message when the container's pid file cannot be read.
    private func unreadablePidFile() -> String? {
        do {
            _ = try GFile.contents(plan.containerPidFile)
            return nil
        } catch {
            return error.message
        }
    }

    private func monitorExit(pid: Int32) {
        if plan.options.timeout > 0 {
            loop.schedule(afterSeconds: Double(plan.options.timeout)) { [self] in
                guard exitStatus == nil, core.snapshot.exitCode == nil else { return }
                timedOut = true
                ConmonLog.ninfo("Timed out, killing main loop")
                // conmon kills the container's process group, else its pid.
                let group = getpgid(pid)
                _ = group > 1 ? Glibc.kill(-group, SIGKILL) : Glibc.kill(pid, SIGKILL)
            }
        }
        core.wait { [self] result in
            guard case .success(let exit) = result else { return exitThroughCommand(1) }
            if exit.exitCode != 0 { ConmonLog.ninfof("container \(pid) exited with status \(exit.exitCode)") }
            core.whenSettled { [self] _ in
                core.whenAttachClientsDrained { [self] in
                    finish(code: timedOut ? -1 : exit.exitCode, execID: nil, message: nil)
                }
            }
        }
    }

    // --- the end -----------------------------------------------------------------------------

    /// conmon's last steps: the exit files (persist dir, then exit dir),
    /// an exec's code on the sync pipe, the attach socket removed, the exit
    /// command; the monitor exits with `code`.
    func finish(code: Int32, execID: String?, message: String?) {
        control?.stop()
        control = nil
        let text = "\(code)"
        if let dir = plan.options.persistDir {
            do { try GFile.setContents(FileSystem.join(dir, "exit"), text) } catch {
                ConmonLog.exitMessage("Failed to write \(text) to container exit file: \(error.message)")
                return exitThroughCommand(1)
            }
        }
        if let dir = plan.options.exitDir {
            do { try GFile.setContents(FileSystem.join(dir, plan.containerID), text) } catch {
                ConmonLog.exitMessage("Failed to write \(text) to exit file: \(error.message)")
                return exitThroughCommand(1)
            }
        }
        if plan.mode == .exec { pipes.report(Int64(code), message: message) }
        core.closeAttachEndpoints(execID: execID)
        exitThroughCommand(code)
    }

    /// conmon's atexit handler: the exit command, when there is one. (Its
    /// status does not become conmon's: do_exit_command's wait loop resets
    /// the status it means to pass on before it returns.)
    func exitThroughCommand(_ status: Int32) {
        guard let command = plan.exitCommand else { return setExit(status) }
        ExitCommand.run(command.argv, delaySeconds: command.delaySeconds, environment: ProcessEnvironment.current(),
                        loop: loop, reaper: host.reaper, log: log, label: "container \(plan.containerID)") { [self] _ in
            setExit(status)
        }
    }

    private func setExit(_ status: Int32) {
        guard exitStatus == nil else { return }
        exitStatus = status
    }

    /// conmon forwards SIGTERM, SIGINT and SIGQUIT to the process it
    /// monitors: the container, or the exec session's process.
    private func terminationSignal(_ signal: Int32) {
        if plan.mode == .exec {
            guard execRunning else { return }
            core.kill(execID: execSessionID, signal: signal, all: false) { _ in }
            return
        }
        if core.terminationSignal(signal) { setExit(1) }
    }

    /// The core's id of the exec session: --cuuid, or (legacy API) our own.
    var execSessionID: String { plan.containerUUID ?? "exec-\(getpid())" }
}
