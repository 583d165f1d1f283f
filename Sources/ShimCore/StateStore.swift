import Glibc
import ShimSystem

/// The shim's state on disk (<state-dir>/state.json), rewritten atomically on
/// every change: a restarted engine discovers every shim and its container by
/// reading these files (`ocictl ps`) without asking each shim.
final class StateStore {
    let path: String
    private let shimPid: Int32
    private let stateDir: String
    private let containerID: String
    /// How to reach the runtime that holds (or may hold) the container:
    /// what `ocictl` falls back to once this shim is gone.
    var runtime: RuntimeSettings?
    private var writeScheduled = false
    private var stopped = false
    private let loop: EventLoop

    init(stateDir: String, containerID: String, loop: EventLoop) {
        self.stateDir = stateDir
        self.containerID = containerID
        self.path = FileSystem.join(stateDir, "state.json")
        self.shimPid = getpid()
        self.loop = loop
    }

    /// Coalesces the changes of one loop turn into one write.
    func scheduleWrite(_ snapshot: @escaping () -> (ContainerSnapshot?, [String: String], [ContainerEvent])) {
        guard !writeScheduled, !stopped else { return }
        writeScheduled = true
        loop.soon { [self] in
            writeScheduled = false
            guard !stopped else { return }
            let (container, paths, events) = snapshot()
            write(container: container, paths: paths, events: events)
        }
    }

    func write(container: ContainerSnapshot?, paths: [String: String], events: [ContainerEvent]) {
        var doc: JSONValue = .object([
            ("version", .int(1)),
            ("id", .string(containerID)),
            ("shimPid", .int(Int64(shimPid))),
            ("stateDir", .string(stateDir)),
            ("updatedAt", .int(Clock.realtimeNanos())),
        ])
        if let c = container { doc.set("container", Self.encode(c)) }
        if let runtime { doc.set("runtime", Self.encode(runtime)) }
        doc.set("paths", .object(paths.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        doc.set("events", .array(events.map(Self.encode)))
        do {
            try FileSystem.writeAtomically(path, doc.serializedBytes, mode: 0o600)
        } catch {
            // The shim goes on: the state file is for discovery, the live
            // answers come from the shim itself.
        }
    }

    static func encode(_ c: ContainerSnapshot) -> JSONValue {
        var o: JSONValue = .object([
            ("status", .string(c.status.rawValue)), ("pid", .int(Int64(c.pid))),
            ("createdAt", .int(c.createdAt)), ("startedAt", .int(c.startedAt)), ("finishedAt", .int(c.finishedAt)),
            ("oomKilled", .bool(c.oomKilled)), ("bundle", .string(c.bundle)), ("terminal", .bool(c.terminal)),
        ])
        if let code = c.exitCode { o.set("exitCode", .int(Int64(code))) }
        if c.checkpointed { o.set("checkpointed", .bool(true)) }
        if let e = c.logError { o.set("logError", .string(e)) }
        return o
    }

    /// The runtime's path, --root and global options (without the
    /// per-invocation --log): enough to run its state, kill and delete.
    static func encode(_ r: RuntimeSettings) -> JSONValue {
        var o: JSONValue = .object([("path", .string(r.runtime.path))])
        if let root = r.root { o.set("root", .string(root)) }
        o.set("args", .strings((r.systemdCgroup ? ["--systemd-cgroup"] : []) + r.globalArgs))
        return o
    }

    static func encode(_ e: ContainerEvent) -> JSONValue {
        .object([
            ("seq", .int(Int64(e.seq))), ("kind", .string(e.kind.rawValue)), ("timestamp", .int(e.timestamp)),
            ("execID", .string(e.execID)), ("pid", .int(Int64(e.pid))), ("exitCode", .int(Int64(e.exitCode))),
            ("message", .string(e.message)),
        ])
    }

    /// No more writes: the shim's files are being removed.
    func stop() { stopped = true }

    /// Reads a state file written by a shim (for `ocictl ps`).
    public static func read(_ path: String) -> JSONValue? {
        guard let bytes = try? FileSystem.readIfExists(path) else { return nil }
        return try? JSONValue(parsing: bytes)
    }
}
