import Glibc
import ShimSystem

extension Container {
    /// The seed's CheckpointContainer: `runc checkpoint --image-path I
    /// --work-path W [--leave-running] [--tcp-established] ID` with the
    /// container's process label as the socket creation label.
    ///
    /// Without leave-running, CRIU kills the dumped tree and runc forgets the
    /// container: the monitor records the init's end as usual (the code it
    /// really saw, 137 for runc's SIGKILL), marks it `checkpointed`, and
    /// answers once it has done so, with the container stopped. With
    /// leave-running the container goes on and is reported running.
    func checkpoint(_ options: CheckpointOptions, _ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        guard status == .running else { return done(.failure(illegal("checkpoint", allowed: "running"))) }
        guard !checkpointProgress.inFlight else {
            return done(.failure(.precondition("container \(id) is already being checkpointed")))
        }
        do throws(CoreError) {
            try Self.requireAbsolute(options.imagePath, "checkpoint image path")
            if let work = options.workPath { try Self.requireAbsolute(work, "checkpoint work path") }
            // As the seed does before the runtime call; a no-op without SELinux.
            try SELinux.setSocketCreateLabel(self.options.processLabel)
        } catch {
            return done(.failure(error))
        }
        checkpointProgress = CheckpointProgress()
        checkpointProgress.inFlight = true
        checkpointProgress.leaveRunning = options.leaveRunning
        log.info("container \(id): \(driver.runtimeName) checkpoint to \(options.imagePath)\(options.leaveRunning ? ", leaving it running" : "")")
        driver.run(checkpointCall(options)) { [self] result in
            checkpointFinished(result, leaveRunning: options.leaveRunning, done)
        }
        // The runtime has been forked (or failed to be) by now. The label is
        // per thread and the shim has one thread: reset it at once so that
        // the shim's own sockets (clients, attach) keep the default label.
        do throws(CoreError) { try SELinux.setSocketCreateLabel(nil) } catch {
            log.warning("container \(id): \(error.message)")
        }
    }

    func checkpointCall(_ options: CheckpointOptions) -> RuntimeCall {
        var args = ["checkpoint", "--image-path", options.imagePath, "--work-path", options.workPath ?? paths.bundle]
        if options.leaveRunning { args.append("--leave-running") }
        if options.tcpEstablished { args.append("--tcp-established") }
        if options.fileLocks { args.append("--file-locks") }
        args += options.runtimeArgs
        args.append(id)
        return RuntimeCall("checkpoint", args)
    }

    /// While a checkpoint that stops the container runs, the init's end is
    /// not recorded yet: only the runtime's answer tells a checkpoint (the
    /// exit is the checkpoint's) from a crash during a failed dump.
    func holdExitForCheckpoint(_ termination: Termination) -> Bool {
        guard checkpointProgress.inFlight, !checkpointProgress.leaveRunning else { return false }
        log.info("container \(id): init ended during checkpoint; recorded once the runtime answers")
        checkpointProgress.heldExit = termination
        return true
    }

    private func checkpointFinished(_ result: Result<CommandResult, CoreError>, leaveRunning: Bool,
                                    _ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        let held = checkpointProgress.heldExit
        checkpointProgress.inFlight = false
        checkpointProgress.heldExit = nil
        switch result {
        case .failure(let error):
            log.warning("container \(id): checkpoint failed: \(error.message)")
            // An end seen meanwhile was not the checkpoint's.
            if let held { recordExit(code: held.exitCode, reason: nil) }
            done(.failure(error))
        case .success:
            checkpointProgress.stoppedByCheckpoint = !leaveRunning
            context.emit(.checkpointed) { [pid] in
                $0.pid = pid
                $0.message = leaveRunning ? "checkpointed, left running" : "checkpointed, stopped"
            }
            if leaveRunning {
                return done(.success(CheckpointOutcome(status: status, exit: exitInfo)))
            }
            if let held { recordExit(code: held.exitCode, reason: "checkpointed") }
            awaitCheckpointedExit(done)
        }
    }

    /// Answers once the checkpointed init's end is recorded. CRIU has killed
    /// it already; one that is somehow still alive 5 s later is killed (the
    /// runtime no longer knows it), and the call fails if even that is not seen.
    private func awaitCheckpointedExit(_ done: @escaping (Result<CheckpointOutcome, CoreError>) -> Void) {
        var answered = false
        var timers: [EventLoop.TimerToken] = []
        func answer(_ result: Result<CheckpointOutcome, CoreError>) {
            guard !answered else { return }
            answered = true
            timers.forEach { context.loop.cancel($0) }
            done(result)
        }
        let waiter = onExit { [self] exit in answer(.success(CheckpointOutcome(status: status, exit: exit))) }
        let grace = 5.0
        timers.append(context.loop.schedule(afterSeconds: grace) { [self] in
            guard !answered else { return }
            log.warning("container \(id): init \(pid) still alive \(Int(grace))s after its checkpoint; killing it")
            if pid > 0 { Glibc.kill(pid, SIGKILL) }
            timers.append(context.loop.schedule(afterSeconds: grace) { [self] in
                cancelExitWait(waiter)
                answer(.failure(CoreError(.deadlineExceeded,
                    "container \(id) was checkpointed but its init \(pid) has not exited")))
            })
        })
    }

    static func requireAbsolute(_ path: String, _ what: String) throws(CoreError) {
        guard path.hasPrefix("/") else {
            throw .invalid("the \(what) must be absolute (the shim's working directory is not the engine's): \"\(path)\"")
        }
    }
}

extension RestoreOptions {
    /// Before `runc restore`: the paths are the engine's and must not depend
    /// on the shim's working directory.
    func validate() throws(CoreError) {
        try Container.requireAbsolute(imagePath, "restore image path")
        if let workPath { try Container.requireAbsolute(workPath, "restore work path") }
    }
}
