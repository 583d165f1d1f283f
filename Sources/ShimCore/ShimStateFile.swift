import ShimSystem

/// `<state-dir>/state.json`, the one description of it: the shim writes it
/// (StateStore) on every change; engines and `ocictl` read it to discover
/// shims and their containers without asking each shim, and to reach the
/// container through its runtime once the shim is gone.
public struct ShimStateFile: Sendable, Equatable {
    public static let name = "state.json"
    /// The writer's spare beside it (`state.json.spare`, SwappedFile): never
    /// read, removed with the state file.
    public static let spareSuffix = ".spare"
    /// Both names, for those that remove the shim's files.
    public static let fileNames = [name, name + spareSuffix]
    public static let version = 1

    public var id: String
    public var shimPid: Int32
    public var stateDir: String
    /// Unix nanoseconds of the write.
    public var updatedAt: Int64
    /// nil before a Create succeeded.
    public var container: ContainerSnapshot?
    /// How to reach the runtime that holds (or may hold) the container.
    public var runtime: Runtime?
    /// "exitFile", "attachSocket", "bundle", "log".
    public var paths: [String: String]
    /// The retained events, oldest first.
    public var events: [ContainerEvent]

    /// The runtime's path, --root and global options (without the
    /// per-invocation --log): enough to run its state, kill and delete.
    public struct Runtime: Sendable, Equatable {
        public var path: String
        public var root: String?
        public var args: [String]

        public init(path: String, root: String?, args: [String]) {
            self.path = path
            self.root = root
            self.args = args
        }
    }

    public init(id: String, shimPid: Int32, stateDir: String, updatedAt: Int64, container: ContainerSnapshot?,
                runtime: Runtime?, paths: [String: String], events: [ContainerEvent]) {
        self.id = id
        self.shimPid = shimPid
        self.stateDir = stateDir
        self.updatedAt = updatedAt
        self.container = container
        self.runtime = runtime
        self.paths = paths
        self.events = events
    }

    /// The state file of the shim whose state dir is `stateDir`; nil when
    /// there is none or it does not parse. A file that does not parse is
    /// read again, twice: a read that spans two of the shim's writes can see
    /// the writer's spare being rewritten (SwappedFile); a new open sees the
    /// file in place, whole.
    public static func read(stateDir: String) -> ShimStateFile? {
        let path = FileSystem.join(stateDir, name)
        for _ in 0..<3 {
            guard let bytes = try? FileSystem.readIfExists(path, limit: 16 << 20) else { return nil }
            if let document = try? JSONValue(parsing: bytes) { return ShimStateFile(document) }
        }
        return nil
    }

    // --- JSON ----------------------------------------------------------------------

    public var json: JSONValue {
        var doc: JSONValue = .object([
            ("version", .int(Int64(Self.version))),
            ("id", .string(id)),
            ("shimPid", .int(Int64(shimPid))),
            ("stateDir", .string(stateDir)),
            ("updatedAt", .int(updatedAt)),
        ])
        if let container { doc.set("container", Self.encode(container)) }
        if let runtime {
            var o: JSONValue = .object([("path", .string(runtime.path))])
            if let root = runtime.root { o.set("root", .string(root)) }
            o.set("args", .strings(runtime.args))
            doc.set("runtime", o)
        }
        doc.set("paths", .object(paths.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        doc.set("events", .array(events.map(Self.encode)))
        return doc
    }

    public init?(_ doc: JSONValue) {
        guard doc.objectValue != nil, let id = doc["id"]?.stringValue else { return nil }
        self.id = id
        shimPid = Int32(clamping: doc["shimPid"]?.intValue ?? 0)
        stateDir = doc["stateDir"]?.stringValue ?? ""
        updatedAt = doc["updatedAt"]?.intValue ?? 0
        container = doc["container"].flatMap { Self.decodeContainer($0, id: id) }
        runtime = doc["runtime"].flatMap { r in
            r["path"]?.stringValue.map { Runtime(path: $0, root: r["root"]?.stringValue, args: r["args"]?.stringArray ?? []) }
        }
        var paths: [String: String] = [:]
        for (key, value) in doc["paths"]?.objectValue ?? [] { if let text = value.stringValue { paths[key] = text } }
        self.paths = paths
        events = (doc["events"]?.arrayValue ?? []).compactMap { Self.decodeEvent($0, containerID: id) }
    }

    private static func encode(_ c: ContainerSnapshot) -> JSONValue {
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

    private static func decodeContainer(_ o: JSONValue, id: String) -> ContainerSnapshot? {
        guard let status = o["status"]?.stringValue.flatMap(ContainerStatus.init(rawValue:)) else { return nil }
        var c = ContainerSnapshot(id: id, status: status)
        c.pid = Int32(clamping: o["pid"]?.intValue ?? 0)
        c.exitCode = o["exitCode"]?.intValue.map { Int32(clamping: $0) }
        c.createdAt = o["createdAt"]?.intValue ?? 0
        c.startedAt = o["startedAt"]?.intValue ?? 0
        c.finishedAt = o["finishedAt"]?.intValue ?? 0
        c.oomKilled = o["oomKilled"]?.boolValue ?? false
        c.checkpointed = o["checkpointed"]?.boolValue ?? false
        c.bundle = o["bundle"]?.stringValue ?? ""
        c.terminal = o["terminal"]?.boolValue ?? false
        c.logError = o["logError"]?.stringValue
        return c
    }

    private static func encode(_ e: ContainerEvent) -> JSONValue {
        .object([
            ("seq", .int(Int64(e.seq))), ("kind", .string(e.kind.rawValue)), ("timestamp", .int(e.timestamp)),
            ("execID", .string(e.execID)), ("pid", .int(Int64(e.pid))), ("exitCode", .int(Int64(e.exitCode))),
            ("message", .string(e.message)),
        ])
    }

    private static func decodeEvent(_ o: JSONValue, containerID: String) -> ContainerEvent? {
        guard let kind = o["kind"]?.stringValue.flatMap(ContainerEvent.Kind.init(rawValue:)),
              let seq = o["seq"]?.intValue, seq >= 0 else { return nil }
        var e = ContainerEvent(seq: UInt64(seq), kind: kind, timestamp: o["timestamp"]?.intValue ?? 0, containerID: containerID)
        e.execID = o["execID"]?.stringValue ?? ""
        e.pid = Int32(clamping: o["pid"]?.intValue ?? 0)
        e.exitCode = Int32(clamping: o["exitCode"]?.intValue ?? 0)
        e.message = o["message"]?.stringValue ?? ""
        return e
    }
}
