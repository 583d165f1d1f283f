import Glibc
import ShimSystem

extension Container {
    /// The reaper saw the init exit: conmon's container_exit_cb and what
    /// follows it.
    func exited(_ termination: Termination) {
        log.info("container \(id): init \(pid) \(termination)")
        if holdExitForCheckpoint(termination) { return }
        recordExit(code: termination.exitCode, reason: checkpointProgress.stoppedByCheckpoint ? "checkpointed" : nil)
    }

    /// Records the exit in the order conmon does: drain stdio into the log,
    /// notice a last OOM, release the reserved ports, then write the exit
    /// files, then tell everyone, then run the exit command.
    func recordExit(code: Int32, reason: String?) {
        guard exitCode == nil else { return }
        if let reason, !checkpointProgress.stoppedByCheckpoint { log.warning("container \(id): exit \(code): \(reason)") }
        stdio?.acceptWaitingClients()
        io?.drainOutput()
        // A last line without a newline is in the log when the exit is
        // reported, even if a process that outlived the init (no pid
        // namespace of its own) keeps the output open.
        logger?.flush()
        logger?.sync()
        oomWatcher?.flush()
        oomWatcher?.stop()
        oomWatcher = nil
        ports?.release()
        ports = nil
        exitCode = code
        // An exit seen while `runc start` is still answering: the start is
        // recorded first, so it is never later than the finish.
        if startPending { markStarted() }
        finishedAt = Clock.realtimeNanos()
        writeExitFiles(code)
        transition(to: .stopped)
        context.emit(.exited) { [pid] in $0.pid = pid; $0.exitCode = code; $0.message = reason ?? "" }
        let exit = ContainerExit(exitCode: code, finishedAt: finishedAt, oomKilled: oomKilled,
                                 checkpointed: checkpointProgress.stoppedByCheckpoint)
        let waiters = exitWaiters.values
        exitWaiters = [:]
        for waiter in waiters { waiter(exit) }
        runExitCommand()
    }

    func oomDetected() {
        guard !oomKilled else { return }
        oomKilled = true
        log.info("container \(id): OOM event received")
        writeOOMFiles()
        context.emit(.oom) { [pid] in $0.pid = pid }
        onChange?()
    }

    /// Every output reached EOF (all holders of the container's stdio are gone).
    func outputFinished() {
        log.debug("container \(id): output closed")
        logger?.flush()
    }

    /// `<exit-dir>/<id>` and `<persist-dir>/exit`: the code as decimal text,
    /// written atomically so a watcher never reads a partial file.
    private func writeExitFiles(_ code: Int32) {
        var targets = [paths.exitFile]
        if let persist = paths.persistDir { targets.append(FileSystem.join(persist, "exit")) }
        for path in targets {
            do {
                try FileSystem.writeAtomically(path, "\(code)")
            } catch {
                log.error("container \(id): cannot write exit file: \(error)")
            }
        }
    }

    /// conmon's write_oom_files: an empty `oom` file in the bundle (conmon's
    /// working directory) and in the persist dir.
    private func writeOOMFiles() {
        var targets = [FileSystem.join(paths.bundle, "oom")]
        if let persist = paths.persistDir { targets.append(FileSystem.join(persist, "oom")) }
        for path in targets {
            // Never blocks on a FIFO and never writes through a symlink
            // planted at the name; an existing file is left as it is.
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0o666)
            if fd < 0 { log.warning("failed to write oom file \(path): \(SystemError("open"))") } else { close(fd) }
        }
    }

    /// The exit command (podman's cleanup). Whoever waits in
    /// `afterExitCommand` hears when it has finished (or that there is none).
    private func runExitCommand() {
        ExitCommand.run(options.exitCommand, delaySeconds: options.exitDelaySeconds,
                        environment: context.processEnvironment, loop: context.loop, reaper: context.reaper,
                        log: log, label: "container \(id)") { [weak self] termination in
            self?.exitCommandFinished(termination)
        }
    }

    /// Calls `body` once the exit command has finished (nil: there was none,
    /// or it could not be started); at once if that is already so.
    func afterExitCommand(_ body: @escaping (Termination?) -> Void) {
        if let outcome = exitCommandOutcome {
            context.loop.soon { body(outcome) }
        } else {
            exitCommandWaiters.append(body)
        }
    }

    private func exitCommandFinished(_ termination: Termination?) {
        exitCommandOutcome = .some(termination)
        let waiters = exitCommandWaiters
        exitCommandWaiters = []
        for waiter in waiters { waiter(termination) }
    }
}
