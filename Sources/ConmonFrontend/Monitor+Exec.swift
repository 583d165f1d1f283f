import Glibc
import ShimCore
import ShimSystem

/// conmon's exec mode (`-e`): one monitor per exec session of a container
/// another monitor runs. The core joins the running container for exec
/// only, registers the session (its attach socket and ctl FIFO in the exec
/// bundle), starts `runc exec` with the engine's process spec when the
/// engine is ready, and the monitor reports as conmon does:
///
///     [--exec-attach] attach pipe {"data": 0} once the socket listens,
///                     then wait for the second start-pipe message
///     sync pipe {"data": <pid>}, later {"data": <exit code>}
///                     ({"data": -1, "message": "command timed out"} after -T)
///     exit file <exit-dir>/<cid>, exit command, then the monitor ends.
///
/// The exit files, the code on the pipe and the exit command come after the
/// attach clients have their output (ExecOptions.announceAfterAttachClients).
extension Monitor {
    func runExec() {
        core.joinForExecs(plan.createOptions(providedStdio: [])) { [self] result in
            switch result {
            case .failure(let error):
                runtimeFailed(error, what: "exec in container \(plan.containerID)")
            case .success(let pid):
                log.debug("exec in container \(plan.containerID) (init pid \(pid)), session \(plan.containerUUID)")
                registerSession()
            }
        }
    }

    private func registerSession() {
        if case .failure(let error) = core.registerExec(plan.execOptions()) {
            return runtimeFailed(error, what: "exec in container \(plan.containerID)")
        }
        guard plan.options.execAttach else { return startSession() }
        pipes.reportAttachReady()
        afterStartMessage { [self] in startSession() }
    }

    private func startSession() {
        let id = plan.containerUUID
        core.startExec(id) { [self] result in
            switch result {
            case .failure(let error):
                runtimeFailed(error, what: "exec in container \(plan.containerID)")
            case .success(let pid):
                created = true
                execRunning = true
                log.debug("exec session \(id): pid \(pid)")
                // runc wrote -p for conmon; the core reads its own pid file.
                if plan.options.containerPidFile != nil {
                    try? FileSystem.writeAtomically(plan.containerPidFile, "\(pid)")
                }
                pipes.report(Int64(pid))
                awaitSessionExit()
            }
        }
    }

    /// The exit as the core announces it (attach clients drained, exit
    /// files written): the code on the pipe, then, once the exit command
    /// has run, the session goes (the engine's files stay).
    private func awaitSessionExit() {
        let id = plan.containerUUID
        core.wait(execID: id) { [self] result in
            execRunning = false
            guard case .success(let exit) = result else { return finish(1) }
            log.debug("exec session \(id) exited with \(exit.exitCode)\(exit.timedOut ? " (timed out)" : "")")
            pipes.report(Int64(exit.exitCode), message: exit.timedOut ? "command timed out" : nil)
            core.whenSettled(execID: id) { [self] _ in
                do throws(CoreError) { try core.removeExec(id) } catch {
                    log.warning("exec session \(id): cleanup: \(error)")
                }
                finish(exit.exitCode)
            }
        }
    }

    /// The engine's second message on the start pipe (it has attached), or
    /// its end (it went away: go on, as conmon does).
    private func afterStartMessage(_ proceed: @escaping () -> Void) {
        guard let fd = pipes.start else { return proceed() }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        do {
            try loop.watch(fd, .readable) { [self] _ in
                var buffer = [UInt8](repeating: 0, count: 256)
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
                loop.unwatch(fd)
                close(fd)
                proceed()
            }
        } catch {
            log.warning("cannot watch the start pipe: \(error); starting the exec now")
            proceed()
        }
    }
}
