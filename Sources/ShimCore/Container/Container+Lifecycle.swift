import Glibc
import ShimSystem

extension Container {
    /// podman's ConmonOCIRuntime.StartContainer: `runtime start`, then the
    /// start time and event.
    func start(_ done: @escaping (Result<Int64, CoreError>) -> Void) {
        do throws(CoreError) { try check(.start) } catch { return done(.failure(error)) }
        move(to: .starting)
        runtime.start(id) { [self] result in
            switch result {
            case .failure(let error):
                if phase.kind == .starting { move(to: .created) }
                done(.failure(error))
            case .success:
                // The init may have ended meanwhile (its start was recorded
                // with its exit).
                if phase.kind == .starting {
                    markStarted()
                    move(to: .running)
                }
                done(.success(initProcess?.startedAt ?? 0))
            }
        }
    }

    /// KillContainer: `runtime kill [--all] ID SIGNAL`.
    func kill(signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard (1...64).contains(signal) else { return done(.failure(.invalid("invalid signal \(signal): use 1 to 64"))) }
        do throws(CoreError) { try check(.kill) } catch { return done(.failure(error)) }
        guard let process = initProcess else { return done(.failure(.internal("container \(id) has no init"))) }
        process.signal(signal, all: all, done)
    }

    /// StopContainer: the stop signal, the timeout, then SIGKILL. A timeout
    /// of 0 sends SIGKILL at once; an exited container is success. Answers
    /// once the monitor has seen the exit.
    func stop(timeoutSeconds: UInt32, signal: Int32, all: Bool,
              _ done: @escaping (Result<(ProcessExit, escalated: Bool), CoreError>) -> Void) {
        do throws(CoreError) { try check(.stop) } catch { return done(.failure(error)) }
        guard let process = initProcess else { return done(.failure(.internal("container \(id) has no init"))) }
        let stopSignal = signal == 0 ? SIGTERM : signal
        guard (1...64).contains(stopSignal) else { return done(.failure(.invalid("invalid stop signal \(signal)"))) }
        if process.exit == nil && timeoutSeconds > 0 { log.debug("container \(id): stopping with signal \(stopSignal)") }
        process.stop(signal: stopSignal, timeoutSeconds: timeoutSeconds, all: all, done)
    }

    func pause(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        do throws(CoreError) { try check(.pause) } catch { return done(.failure(error)) }
        runtime.pause(id) { [self] result in
            if case .success = result, phase.kind == .running {
                move(to: .paused)
                context.emit(.paused) { [pid = initProcess?.pid ?? 0] in $0.pid = pid }
            }
            done(result)
        }
    }

    func resume(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        do throws(CoreError) { try check(.resume) } catch { return done(.failure(error)) }
        runtime.resume(id) { [self] result in
            if case .success = result, phase.kind == .paused {
                move(to: .running)
                context.emit(.resumed) { [pid = initProcess?.pid ?? 0] in $0.pid = pid }
            }
            done(result)
        }
    }

    func update(resourcesJSON: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        do throws(CoreError) { try check(.update) } catch { return done(.failure(error)) }
        do {
            guard try JSONValue(parsing: resourcesJSON).objectValue != nil else {
                return done(.failure(.invalid("resources must be a JSON object (OCI LinuxResources)")))
            }
        } catch {
            return done(.failure(.invalid("resources are not valid JSON: \(error)")))
        }
        runtime.update(id, resources: Array(resourcesJSON.utf8), done)
    }

    /// DeleteContainer: `runtime delete --force`. A running or paused
    /// container needs `force`; its exit is recorded before the answer.
    func delete(force: Bool, _ done: @escaping (Result<ProcessExit?, CoreError>) -> Void) {
        do throws(CoreError) { try check(force ? .forceDelete : .delete) } catch { return done(.failure(error)) }
        runtime.delete(id, force: true) { [self] result in
            if case .failure(let error) = result, error.kind != .noSuchContainer {
                return done(.failure(error))
            }
            guard let process = initProcess, process.exit == nil, process.pid > 0 else {
                return finishDelete(done)
            }
            // The runtime killed the init: record its exit first (Wait and
            // the exit file must see it), within the kill grace.
            let grace = context.config.killGraceSeconds
            ExitEscalation.run(on: process, steps: [.init(wait: grace)], atTheEnd: .giveUp) { [self] result, _ in
                if case .success(nil) = result {
                    log.warning("container \(id): no exit seen \(ExitEscalation.seconds(grace)) after delete; deleting anyway")
                }
                finishDelete(done)
            }
        }
    }

    private func finishDelete(_ done: @escaping (Result<ProcessExit?, CoreError>) -> Void) {
        let exit = initProcess?.exit
        let pid = initProcess?.pid ?? 0
        releaseResources()
        try? FileSystem.removeFile(paths.pidFile)
        move(to: .deleted)
        context.emit(.deleted) { $0.pid = pid; $0.exitCode = exit?.exitCode ?? 0 }
        done(.success(exit))
    }

    /// UpdateContainerStatus with the runtime asked: for engines that want
    /// the runtime's word. A container the runtime no longer knows is
    /// reported exited with -1, as podman does.
    func refreshFromRuntime(_ done: @escaping (Result<Void, CoreError>) -> Void) {
        // A checkpoint makes the runtime forget the container before the
        // init's end is recorded: the monitor's view is the one that holds.
        guard [.created, .running, .paused].contains(phase.kind), let process = initProcess else { return done(.success(())) }
        runtime.state(id) { [self] result in
            switch result {
            case .failure(let error):
                done(.failure(error))
            case .success(nil):
                if process.exit == nil {
                    context.processes.reap()
                    if process.exit == nil { process.recordExit(code: -1, reason: "the runtime no longer knows the container") }
                }
                done(.success(()))
            case .success(let state?):
                switch state.status {
                case "running":
                    if phase.kind == .paused { move(to: .running) }
                case "paused":
                    if phase.kind == .running { move(to: .paused) }
                case "stopped":
                    // Dead but maybe not reaped yet: reap now so that
                    // "stopped" always comes with its exit code.
                    context.processes.reap()
                default: break
                }
                done(.success(()))
            }
        }
    }

    /// The init of a container another monitor created and runs, taken over
    /// for exec sessions only (a monitor per exec session, as conmon's exec
    /// mode): it is not this shim's child, so its exit is neither watched
    /// nor recorded here.
    func adoptRunning(pid: Int32) {
        createdAt = Clock.realtimeNanos()
        let hub = AttachHub(label: "container \(id)", terminal: false, stdin: false, closeStdinOnClientEOF: false,
                            backlogCapacity: nil, loop: context.loop, log: context.log)
        let process = MonitoredProcess(execID: nil, label: "container \(id)", hub: hub,
                                       delivery: .runtime(runtime, containerID: id), context: context)
        process.adopt(pid: pid, startedAt: createdAt)
        initProcess = process
        move(to: .creating)
        move(to: .running)
    }
}
