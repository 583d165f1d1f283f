import Glibc
import ShimSystem
import SystemPackage
import XCTest
@testable import ShimCore

/// Processes that exist only in the test: the core's reaper and kill(2)
/// for an in-process RuntimeCore. Pids start far above any real one, so
/// that nothing is ever signalled for real. A process ends when the test
/// says (`exit`) or when a signal it does not ignore arrives.
final class FakeProcesses: ProcessTable {
    private let loop: EventLoop
    private var alive: Set<Int32> = []
    private var waiters: [Int32: (Termination) -> Void] = [:]
    private var ended: [Int32: Termination] = [:]
    private var nextPid: Int32 = 4_000_000
    /// Signals each pid was sent, in order.
    private(set) var signals: [Int32: [Int32]] = [:]
    /// Signals a pid survives (as a PID 1 without handlers survives SIGTERM).
    var ignored: [Int32: Set<Int32>] = [:]
    /// Pids that survive even SIGKILL (a process stuck in the kernel).
    var unkillable: Set<Int32> = []

    init(loop: EventLoop) { self.loop = loop }

    func spawn() -> Int32 {
        nextPid += 1
        alive.insert(nextPid)
        return nextPid
    }

    func isAlive(_ pid: Int32) -> Bool { alive.contains(pid) }

    /// The process ends now; the reaper reports it on the next loop turn.
    func exit(_ pid: Int32, _ termination: Termination) {
        guard alive.remove(pid) != nil else { return }
        loop.soon { [self] in
            if let waiter = waiters.removeValue(forKey: pid) { waiter(termination) } else { ended[pid] = termination }
        }
    }

    func onExit(of pid: Int32, _ handler: @escaping (Termination) -> Void) {
        if let termination = ended.removeValue(forKey: pid) {
            loop.soon { handler(termination) }
        } else {
            waiters[pid] = handler
        }
    }

    func forget(_ pid: Int32) { waiters[pid] = nil }

    func reap() {}

    func signal(_ pid: Int32, _ signal: Int32) -> Errno? {
        guard alive.contains(pid) else { return .noSuchProcess }
        guard signal != 0 else { return nil }
        signals[pid, default: []].append(signal)
        let survives = signal == SIGKILL ? unkillable.contains(pid) : ignored[pid, default: []].contains(signal)
        if !survives { exit(pid, .signaled(signal)) }
        return nil
    }
}

/// An OCI runtime inside the test: it keeps containers in a dictionary,
/// writes pid files as runc does, and its processes are FakeProcesses. A
/// test can hold any call's answer (`hold`) and release it later, to see
/// what the core does while a runtime call is in flight; or make a call
/// fail (`failures`).
final class FakeRuntime: OCIRuntime {
    struct Held {
        let operation: String
        let answer: () -> Void
    }

    let name = "fake"
    let processes: FakeProcesses
    private(set) var containers: [String: (pid: Int32, status: String)] = [:]
    private(set) var calls: [String] = []
    /// Operations whose answers wait until `release`.
    var hold: Set<String> = []
    private(set) var held: [Held] = []
    /// Operations that fail with this error.
    var failures: [String: CoreError] = [:]
    /// Called as `create` / `exec` begins: what the shim has made by then.
    var onCreate: ((RuntimeCreate) -> Void)?
    var onExec: ((RuntimeExec) -> Void)?
    /// Every create request, in order.
    private(set) var createRequests: [RuntimeCreate] = []
    /// The container stdout the runtime's process was given (its write end,
    /// kept as the container's own), per container id.
    private(set) var containerStdout: [String: Int32] = [:]
    /// The container stdin the runtime's process was given (its read end).
    private(set) var containerStdin: [String: Int32] = [:]

    init(processes: FakeProcesses) { self.processes = processes }

    deinit { for fd in Array(containerStdout.values) + Array(containerStdin.values) { close(fd) } }

    /// The container closes its stdout (its processes are gone): the shim
    /// reads EOF once it has the rest.
    func closeContainerStdout(_ id: String) {
        if let fd = containerStdout.removeValue(forKey: id) { close(fd) }
    }

    private func answer(_ operation: String, _ body: @escaping () -> Void) {
        calls.append(operation)
        if hold.contains(operation) { held.append(Held(operation: operation, answer: body)) } else { body() }
    }

    /// Answers the held calls of `operation` (all held calls when nil).
    func release(_ operation: String? = nil) {
        let now = held.filter { operation == nil || $0.operation == operation }
        held.removeAll { operation == nil || $0.operation == operation }
        for call in now { call.answer() }
    }

    private func failure(_ operation: String) -> CoreError? { failures[operation] }

    func create(_ request: RuntimeCreate, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        onCreate?(request)
        createRequests.append(request)
        if let error = failure("create") { return answer("create") { done(.failure(error)) } }
        if containers[request.id] != nil {
            return answer("create") { done(.failure(CoreError(.alreadyExists, "container with id exists: \(request.id)"))) }
        }
        let pid = processes.spawn()
        containers[request.id] = (pid, request.restore == nil ? "created" : "running")
        if let stdout = request.stdio.fds.first(where: { $0.child == .standardOutput }) {
            containerStdout[request.id] = dup(stdout.parent.rawValue)
        }
        if let stdin = request.stdio.fds.first(where: { $0.child == .standardInput }) {
            containerStdin[request.id] = dup(stdin.parent.rawValue)
        }
        try? FileSystem.writeAtomically(request.pidFile, "\(pid)")
        answer("create") { done(.success(())) }
    }

    func start(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        if let error = failure("start") { return answer("start") { done(.failure(error)) } }
        containers[id]?.status = "running"
        answer("start") { done(.success(())) }
    }

    func kill(_ id: String, signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard let container = containers[id] else {
            return answer("kill") { done(.failure(CoreError(.noSuchContainer, "container does not exist"))) }
        }
        _ = processes.signal(container.pid, signal)
        answer("kill \(signal)") { done(.success(())) }
    }

    func pause(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        containers[id]?.status = "paused"
        answer("pause") { done(.success(())) }
    }

    func resume(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        containers[id]?.status = "running"
        answer("resume") { done(.success(())) }
    }

    func delete(_ id: String, force: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        guard let container = containers.removeValue(forKey: id) else {
            return answer("delete") { done(.failure(CoreError(.noSuchContainer, "container does not exist"))) }
        }
        if force { _ = processes.signal(container.pid, SIGKILL) }
        if let fd = containerStdout.removeValue(forKey: id) { close(fd) }
        if let fd = containerStdin.removeValue(forKey: id) { close(fd) }
        answer("delete") { done(.success(())) }
    }

    func update(_ id: String, resources: [UInt8], _ done: @escaping (Result<Void, CoreError>) -> Void) {
        answer("update") { done(.success(())) }
    }

    func state(_ id: String, _ done: @escaping (Result<RuntimeState?, CoreError>) -> Void) {
        let state = containers[id].map { RuntimeState(status: processes.isAlive($0.pid) ? $0.status : "stopped", pid: $0.pid, bundle: "") }
        answer("state") { done(.success(state)) }
    }

    func exec(_ request: RuntimeExec, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        onExec?(request)
        if let error = failure("exec") { return answer("exec") { done(.failure(error)) } }
        let pid = processes.spawn()
        try? FileSystem.writeAtomically(request.pidFile, "\(pid)")
        answer("exec") { done(.success(())) }
    }

    func processIDs(_ id: String, _ done: @escaping (Result<[Int32], CoreError>) -> Void) {
        guard let container = containers[id] else {
            return answer("ps") { done(.failure(CoreError(.noSuchContainer, "container does not exist"))) }
        }
        answer("ps") { done(.success([container.pid])) }
    }

    func checkpoint(_ request: RuntimeCheckpoint, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        if let error = failure("checkpoint") { return answer("checkpoint") { done(.failure(error)) } }
        if !request.leaveRunning, let container = containers.removeValue(forKey: request.id) {
            // CRIU ends the dumped tree; runc forgets the container.
            processes.exit(container.pid, .signaled(SIGKILL))
        }
        answer("checkpoint") { done(.success(())) }
    }
}

/// A RuntimeCore on a FakeRuntime, a ManualClock and FakeProcesses: the
/// core's logic without spawning and without sleeping.
final class InProcessShim {
    let clock = ManualClock()
    let loop: EventLoop
    let processes: FakeProcesses
    let runtime: FakeRuntime
    let core: RuntimeCore
    let dir: String
    let bundle: String
    private(set) var events: [ContainerEvent] = []

    init(id: String = "c1", killGraceSeconds: Double = 5) throws {
        dir = try TemporaryDirectory.make(prefix: "inprocess-core")
        bundle = dir + "/bundle"
        try FileSystem.createDirectory(bundle + "/rootfs")
        try FileSystem.writeAtomically(bundle + "/config.json",
                                       #"{"ociVersion":"1.0.2","process":{"terminal":false,"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}"#)
        let clock = self.clock
        loop = try EventLoop(clock: { clock.read() })
        let processes = FakeProcesses(loop: loop)
        self.processes = processes
        let runtime = FakeRuntime(processes: processes)
        self.runtime = runtime
        var config = ShimConfig(containerID: id, stateDir: dir + "/state", runtime: RuntimeSelection("/bin/true"))
        config.killGraceSeconds = killGraceSeconds
        core = try RuntimeCore(config: config, loop: loop, processes: processes, scratch: ScratchBuffer(),
                               makeRuntime: { _ in runtime })
        _ = core.events.subscribe { [weak self] event in self?.events.append(event) }
    }

    deinit { try? FileSystem.removeTree(dir) }

    /// Runs every turn's worth of ready work, timers due at the clock's
    /// current time included, without waiting.
    func settle() {
        for _ in 0..<20 { loop.turn(maxWaitMillis: 0) }
    }

    /// Moves the clock on and runs what became due.
    func advance(seconds: Double) {
        clock.advance(seconds: seconds)
        settle()
    }

    func createOptions() -> CreateOptions {
        var options = CreateOptions(bundle: bundle)
        options.noCgroups = true
        return options
    }

    /// Calls `body` with a completion and returns what it was given, after
    /// settling; nil when it has not answered yet.
    func result<T>(_ body: (@escaping (T) -> Void) -> Void) -> T? {
        var got: T?
        body { got = $0 }
        settle()
        return got
    }

    @discardableResult
    func createAndStart() throws -> Int32 {
        let created = try XCTUnwrap(result { done in core.create(createOptions(), done) })
        let pid = try created.get()
        _ = try XCTUnwrap(result { done in core.start(done) }).get()
        return pid
    }

    var eventKinds: [ContainerEvent.Kind] { events.map(\.kind) }
}
