import Glibc
import ShimCore
import ShimSystem

/// conmon's exec mode (`-e`): one monitor per exec session of a container
/// another monitor runs. The core takes the running container over for
/// exec only, runs `runc exec` with the engine's process spec, serves the
/// session's attach socket and ctl FIFO in the exec bundle, and the monitor
/// reports as conmon does:
///
///     [--exec-attach] attach pipe {"data": 0} once the socket listens,
///                     then wait for the second start-pipe message
///     sync pipe {"data": <pid>}, later {"data": <exit code>}
///                     ({"data": -1, "message": "command timed out"} after -T)
///     exit file <exit-dir>/<cid>, exit command, then the monitor ends.
extension Monitor {
    func runExec() {
        core.adoptForExec(plan.createOptions(passthroughStdio: [])) { [self] result in
            switch result {
            case .failure(let error):
                runtimeFailed(error, what: "exec in container \(plan.containerID)")
            case .success(let pid):
                log.debug("exec in container \(plan.containerID) (init pid \(pid)), session \(plan.containerUUID)")
                startSession()
            }
        }
    }

    private func startSession() {
        let gate: ((@escaping () -> Void) -> Void)? = plan.options.execAttach
            ? { [self] proceed in
                pipes.reportAttachReady()
                afterStartMessage(proceed)
            }
            : nil
        _ = core.exec(plan.execOptions(), beforeRuntime: gate) { [self] result in
            switch result {
            case .failure(let error):
                runtimeFailed(error, what: "exec in container \(plan.containerID)")
            case .success(let pid):
                created = true
                execRunning = true
                log.debug("exec session \(plan.containerUUID): pid \(pid)")
                // runc wrote -p for conmon; the core reads its own pid file.
                if plan.options.containerPidFile != nil {
                    try? FileSystem.writeAtomically(plan.containerPidFile, "\(pid)")
                }
                pipes.report(Int64(pid))
                core.execWait(plan.containerUUID) { [self] result in
                    execRunning = false
                    switch result {
                    case .failure(let error):
                        log.error("exec session \(plan.containerUUID): \(error)")
                        finish(1)
                    case .success(let (code, timedOut)):
                        sessionExited(code: timedOut ? -1 : code, timedOut: timedOut)
                    }
                }
            }
        }
    }

    /// In conmon's order: the output to the attach clients, the exit files
    /// for an exec, the exit code on the sync pipe, the exit command; then
    /// the session's socket and FIFO go (the engine's files stay).
    private func sessionExited(code: Int32, timedOut: Bool) {
        log.debug("exec session \(plan.containerUUID) exited with \(code)\(timedOut ? " (timed out)" : "")")
        afterAttachClientsDrained(execID: plan.containerUUID) { [self] in
            recordSessionExit(code: code, timedOut: timedOut)
        }
    }

    private func recordSessionExit(code: Int32, timedOut: Bool) {
        var files: [String] = []
        if let dir = plan.options.exitDir { files.append(FileSystem.join(dir, plan.containerID)) }
        if let dir = plan.options.persistDir { files.append(FileSystem.join(dir, "exit")) }
        for path in files {
            do { try FileSystem.writeAtomically(path, "\(code)") } catch {
                log.error("exec session \(plan.containerUUID): cannot write exit file \(path): \(error)")
            }
        }
        pipes.report(Int64(code), message: timedOut ? "command timed out" : nil)
        runExitCommand { [self] in
            do throws(CoreError) { try core.execCleanup(plan.containerUUID) } catch {
                log.warning("exec session \(plan.containerUUID): cleanup: \(error)")
            }
            finish(code)
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
