import Glibc
import ShimSystem

extension Container {
    /// The seed's StartContainer: `runtime start`, then the start time.
    func start(_ done: @escaping (Result<Int64, CoreError>) -> Void) {
        guard status == .created else { return done(.failure(illegal("start", allowed: "created"))) }
        guard !startPending else { return done(.failure(.precondition("container \(id) is already being started"))) }
        startPending = true
        driver.start(id) { [self] result in
            startPending = false
            switch result {
            case .failure(let error):
                done(.failure(error))
            case .success:
                markStarted()
                if status == .created { transition(to: .running) }
                done(.success(startedAt))
            }
        }
    }

    /// Records the start once, before any exit event.
    func markStarted() {
        guard !startedEventSent else { return }
        startedEventSent = true
        startedAt = Clock.realtimeNanos()
        context.emit(.started) { $0.pid = pid }
    }

    /// The seed's KillContainer: `runtime kill [--all] ID SIGNAL`.
    func kill(signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard (1...64).contains(signal) else { return done(.failure(.invalid("invalid signal \(signal): use 1 to 64"))) }
        guard [.created, .running, .paused].contains(status) else {
            return done(.failure(illegal("kill", allowed: "created, running or paused")))
        }
        driver.kill(id, signal: signal, all: all) { result in done(result.map { _ in () }) }
    }

    /// The seed's StopContainer: the stop signal, the timeout, then SIGKILL.
    /// A timeout of 0 sends SIGKILL at once; an exited container is success.
    /// Answers once the monitor has seen the exit.
    func stop(timeoutSeconds: UInt32, signal: Int32, all: Bool,
              _ done: @escaping (Result<(ContainerExit, escalated: Bool), CoreError>) -> Void) {
        if let exit = exitInfo { return done(.success((exit, false))) }
        guard [.created, .running].contains(status) else {
            if status == .paused {
                return done(.failure(.precondition("container \(id) is paused: resume it before stopping it")))
            }
            return done(.failure(illegal("stop", allowed: "created or running")))
        }
        let stopSignal = signal == 0 ? SIGTERM : signal
        guard (1...64).contains(stopSignal) else { return done(.failure(.invalid("invalid stop signal \(signal)"))) }

        var finished = false
        var escalated = false
        var timers: [EventLoop.TimerToken] = []
        func finish(_ result: Result<(ContainerExit, escalated: Bool), CoreError>) {
            guard !finished else { return }
            finished = true
            timers.forEach { context.loop.cancel($0) }
            done(result)
        }
        let waiter = onExit { exit in finish(.success((exit, escalated))) }

        let killTimeoutSeconds = 5.0
        func sendKill() {
            escalated = true
            driver.kill(id, signal: SIGKILL, all: all) { [self] result in
                if case .failure(let error) = result, exitInfo == nil, processGone() == false {
                    cancelExitWait(waiter)
                    return finish(.failure(CoreError(error.kind, "error sending SIGKILL to container \(id): \(error.message)")))
                }
            }
            timers.append(context.loop.schedule(afterSeconds: killTimeoutSeconds) { [self] in
                cancelExitWait(waiter)
                finish(.failure(CoreError(.deadlineExceeded, "container \(id) did not exit within \(Int(killTimeoutSeconds))s of SIGKILL")))
            })
        }

        if timeoutSeconds == 0 { return sendKill() }
        driver.kill(id, signal: stopSignal, all: all) { [self] result in
            guard !finished else { return }
            if case .failure(let error) = result, exitInfo == nil, processGone() == false {
                cancelExitWait(waiter)
                return finish(.failure(error))
            }
            timers.append(context.loop.schedule(afterSeconds: Double(timeoutSeconds)) { [self] in
                guard !finished else { return }
                log.warning("timed out stopping container \(id), resorting to SIGKILL")
                sendKill()
            })
        }
    }

    /// Whether the init is gone (kill 0 says ESRCH); the reaper will report.
    func processGone() -> Bool {
        pid > 0 && Glibc.kill(pid, 0) != 0 && errno == ESRCH
    }

    func pause(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard status == .running else { return done(.failure(illegal("pause", allowed: "running"))) }
        driver.pause(id) { [self] result in
            if case .success = result, status == .running {
                transition(to: .paused)
                context.emit(.paused) { $0.pid = pid }
            }
            done(result.map { _ in () })
        }
    }

    func resume(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard status == .paused else { return done(.failure(illegal("resume", allowed: "paused"))) }
        driver.resume(id) { [self] result in
            if case .success = result, status == .paused {
                transition(to: .running)
                context.emit(.resumed) { $0.pid = pid }
            }
            done(result.map { _ in () })
        }
    }

    func update(resourcesJSON: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard [.created, .running, .paused].contains(status) else {
            return done(.failure(illegal("update", allowed: "created, running or paused")))
        }
        do {
            guard try JSONValue(parsing: resourcesJSON).objectValue != nil else {
                return done(.failure(.invalid("resources must be a JSON object (OCI LinuxResources)")))
            }
        } catch {
            return done(.failure(.invalid("resources are not valid JSON: \(error)")))
        }
        driver.update(id, resourcesJSON: Array(resourcesJSON.utf8)) { done($0.map { _ in () }) }
    }

    /// The seed's DeleteContainer: `runtime delete --force`. A running or
    /// paused container needs `force`; its exit is recorded before the answer.
    func delete(force: Bool, _ done: @escaping (Result<ContainerExit?, CoreError>) -> Void) {
        switch status {
        case .none, .deleted:
            return done(.failure(illegal("delete", allowed: "created, running, paused or stopped")))
        case .running, .paused:
            guard force else {
                return done(.failure(.precondition("container \(id) is \(status.rawValue): stop it first or delete with force")))
            }
        case .created, .stopped:
            break
        }
        // Its outcome decides how the init's end is recorded, which must
        // happen before the container is gone.
        guard !checkpointProgress.inFlight else {
            return done(.failure(.precondition("container \(id) is being checkpointed: delete it once the checkpoint has answered")))
        }
        driver.delete(id, force: true) { [self] result in
            if case .failure(let error) = result, !error.message.contains("does not exist") {
                return done(.failure(error))
            }
            if exitInfo != nil || pid <= 0 {
                return finishDelete(done)
            }
            // The runtime killed the init: record its exit first (Wait and
            // the exit file must see it), at most a few seconds.
            var answered = false
            let timer = context.loop.schedule(afterSeconds: 5) { [self] in
                guard !answered else { return }
                answered = true
                log.warning("container \(id): no exit seen 5s after delete; deleting anyway")
                finishDelete(done)
            }
            _ = onExit { [self] _ in
                guard !answered else { return }
                answered = true
                context.loop.cancel(timer)
                finishDelete(done)
            }
        }
    }

    private func finishDelete(_ done: @escaping (Result<ContainerExit?, CoreError>) -> Void) {
        let exit = exitInfo
        releaseResources()
        try? FileSystem.removeFile(paths.pidFile)
        transition(to: .deleted)
        context.emit(.deleted) { $0.pid = pid; $0.exitCode = exit?.exitCode ?? 0 }
        done(.success(exit))
    }

    /// The seed's UpdateContainerStatus with the runtime asked: for engines
    /// that want the runtime's word. A container the runtime no longer knows
    /// is reported exited with -1, as the seed does.
    func refreshFromRuntime(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard [.created, .running, .paused].contains(status) else { return done(.success(())) }
        // A checkpoint makes the runtime forget the container before the
        // init's end is recorded: the monitor's view is the one that holds.
        if checkpointProgress.inFlight || checkpointProgress.stoppedByCheckpoint { return done(.success(())) }
        driver.state(id) { [self] result in
            switch result {
            case .failure(let error):
                done(.failure(error))
            case .success(nil):
                if exitInfo == nil {
                    context.reaper.reap()
                    if exitInfo == nil { recordExit(code: -1, reason: "the runtime no longer knows the container") }
                }
                done(.success(()))
            case .success(let state?):
                switch state.status {
                case "created" where status == .created: break
                case "running":
                    if status == .paused { transition(to: .running) }
                case "paused":
                    if status == .running { transition(to: .paused) }
                case "stopped":
                    // Dead but maybe not reaped yet: reap now so that
                    // "stopped" always comes with its exit code.
                    context.reaper.reap()
                default: break
                }
                done(.success(()))
            }
        }
    }

    func illegal(_ operation: String, allowed: String) -> CoreError {
        let what = status == .none ? "has not been created" : "is \(status.rawValue)"
        return .precondition("cannot \(operation) container \(id): it \(what) (\(operation) needs \(allowed))")
    }

    /// A container another monitor created and runs, taken over for exec
    /// sessions only (conmon's exec mode): its init is not this shim's child,
    /// so its exit is neither watched nor recorded here.
    func adoptRunning(pid: Int32) {
        self.pid = pid
        createdAt = Clock.realtimeNanos()
        startedAt = createdAt
        startedEventSent = true
        transition(to: .running)
    }
}
