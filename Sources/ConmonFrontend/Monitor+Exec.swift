import Glibc
import ShimCore
import ShimSystem
import SystemPackage

/// conmon's exec mode (`-e`): one monitor per exec session of a container
/// another monitor runs, in both of conmon's exec APIs:
///
///     --api-version 1 (podman)             legacy (CRI-O's ExecSync)
///     [--exec-attach] {"data": 0} on the attach pipe once the socket
///     listens, then the engine's second start-pipe message
///     {"data": <pid>}                      (nothing)
///     {"data": <exit code>}                {"exit_code": <exit code>}
///     ({"data": -1, "message": "command timed out"} after -T; a failed
///      runtime: -1 and the runtime's stderr)
///
/// Like conmon, the monitor asks the runtime nothing before `runc exec`:
/// the core joins the container on the engine's word, and a container that
/// is not there is `runc exec`'s to report. Without -b there is no attach
/// socket and no control FIFO. The session's output goes to the -l log
/// drivers, where an ExecSync-style caller reads it back.
extension Monitor {
    /// `providedStdio`: the monitor's own stdio, for -l passthrough.
    func runExec(providedStdio: [FileDescriptor]) {
        var options = plan.createOptions(providedStdio: [])
        options.bundle = plan.bundle ?? stateDir
        core.joinForExecs(options, askRuntime: false) { [self] result in
            if case .failure(let error) = result { return runtimeFailed(error) }
            registerSession(providedStdio: providedStdio)
        }
    }

    private func registerSession(providedStdio: [FileDescriptor]) {
        let id = execSessionID
        // conmon's order: the link, the attach socket (the core's, made at
        // registration), the FIFOs.
        if let bundle = plan.bundle { makeAttachLink(bundle: bundle) }
        var options = plan.execOptions(sessionID: id, stateDir: stateDir)
        options.runtimeFDs = keepFDs
        options.runtimeEnvironment = ProcessEnvironment.current()
        options.providedStdio = providedStdio
        let registered = core.registerExec(options)
        for fd in providedStdio { try? fd.close() }
        if case .failure(let error) = registered { return runtimeFailed(error) }
        if let bundle = plan.bundle { setUpControl(bundle: bundle, execID: id) }
        guard plan.options.execAttach else { return startSession() }
        if plan.bundle != nil && !plan.passthrough {
            ConmonLog.ndebug("sending attach message to parent")
            pipes.reportAttachReady()
            ConmonLog.ndebug("sent attach message to parent")
        }
        afterStartMessage { [self] in startSession() }
    }

    private func startSession() {
        let id = execSessionID
        core.startExec(id) { [self] result in
            switch result {
            case .failure(let error):
                runtimeFailed(error)
            case .success(let pid):
                execRunning = true
                ConmonLog.ndebugf("container PID: \(pid)")
                // runc writes -p for conmon; the core reads a pid file of its own.
                try? GFile.setContents(plan.containerPidFile, "\(pid)")
                // The legacy API reports only the exit code.
                if plan.options.apiVersion >= 1 { pipes.report(Int64(pid)) }
                if plan.options.terminal { control?.startWindowSize() }
                awaitSessionExit()
            }
        }
    }

    /// The exit as the core announces it (attach clients drained): the exit
    /// files, the code on the pipe, the exit command.
    private func awaitSessionExit() {
        let id = execSessionID
        core.wait(execID: id) { [self] result in
            execRunning = false
            guard case .success(let exit) = result else { return exitThroughCommand(1) }
            core.whenSettled(execID: id) { [self] _ in
                if exit.timedOut { ConmonLog.ninfo("Timed out, killing main loop") }
                finish(code: exit.timedOut ? -1 : exit.exitCode, execID: id,
                       message: exit.timedOut ? "command timed out" : nil)
            }
        }
    }

    /// The engine's second message on the start pipe (it has attached), or
    /// its end (it went away: go on, as conmon does).
    private func afterStartMessage(_ proceed: @escaping () -> Void) {
        guard let fd = pipes.start, fd > 0 else { return proceed() }
        ConmonLog.ndebug("exec with attach is waiting for start message from parent")
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        do {
            try loop.watch(FileDescriptor(rawValue: fd), .readable) { [self] _ in
                var buffer = [UInt8](repeating: 0, count: 8192)
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
                loop.unwatch(FileDescriptor(rawValue: fd))
                close(fd)
                ConmonLog.ndebug("exec with attach got start message from parent")
                proceed()
            }
        } catch {
            proceed()
        }
    }
}
