import ShimSystem

/// What a shim's state.json says (the shim rewrites it on every change):
/// read by `ps`, and by every command that falls back to the runtime once
/// the shim is gone.
struct StateFile {
    let id: String
    let shimPid: Int32
    let status: String
    let pid: Int32
    let exitCode: Int32?
    let bundle: String
    let logPath: String?
    let createdAt: Int64
    /// The runtime the container was created with; nil in state files of
    /// shims that did not record it.
    let runtime: RecordedRuntime?

    static func read(_ stateDir: String) -> StateFile? {
        guard let bytes = try? FileSystem.readIfExists(FileSystem.join(stateDir, "state.json")),
              let doc = try? JSONValue(parsing: bytes) else { return nil }
        let container = doc["container"]
        let runtime = doc["runtime"]
        return StateFile(
            id: doc["id"]?.stringValue ?? "",
            shimPid: Int32(doc["shimPid"]?.intValue ?? 0),
            status: container?["status"]?.stringValue ?? "none",
            pid: Int32(container?["pid"]?.intValue ?? 0),
            exitCode: container?["exitCode"]?.intValue.map { Int32($0) },
            bundle: container?["bundle"]?.stringValue ?? "",
            logPath: doc["paths"]?["log"]?.stringValue,
            createdAt: container?["createdAt"]?.intValue ?? 0,
            runtime: runtime?["path"]?.stringValue.map { path in
                RecordedRuntime(path: path, root: runtime?["root"]?.stringValue, args: runtime?["args"]?.stringArray ?? [])
            })
    }
}
