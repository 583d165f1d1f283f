import ShimSystem

/// What a shim's state.json says (the shim rewrites it on every change).
struct StateFile {
    let id: String
    let shimPid: Int32
    let status: String
    let pid: Int32
    let exitCode: Int32?
    let bundle: String
    let logPath: String?
    let createdAt: Int64

    static func read(_ stateDir: String) -> StateFile? {
        guard let bytes = try? FileSystem.readIfExists(FileSystem.join(stateDir, "state.json")),
              let doc = try? JSONValue(parsing: bytes) else { return nil }
        let container = doc["container"]
        return StateFile(
            id: doc["id"]?.stringValue ?? "",
            shimPid: Int32(doc["shimPid"]?.intValue ?? 0),
            status: container?["status"]?.stringValue ?? "none",
            pid: Int32(container?["pid"]?.intValue ?? 0),
            exitCode: container?["exitCode"]?.intValue.map { Int32($0) },
            bundle: container?["bundle"]?.stringValue ?? "",
            logPath: doc["paths"]?["log"]?.stringValue,
            createdAt: container?["createdAt"]?.intValue ?? 0)
    }
}
