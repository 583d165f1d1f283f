import ShimCore
import ShimProtocol
import ShimSystem

/// What `ocictl state` shows of a container, whether its shim answers or
/// is gone: the same fields either way, as text or as JSON shaped like
/// `runc state` (ociVersion, id, pid, status, bundle, rootfs, created,
/// owner, annotations) followed by ocishim's own fields. Every field is
/// always present: times never reached are Go's zero time as runc and docker
/// print it, an exit code not yet known is null.
struct StateView {
    var id: String
    /// Lowercase, as runc: created, running, paused, stopped; ocishim adds
    /// none (the shim has no container yet), deleted and unknown.
    var status: String
    var pid: Int32 = 0
    var bundle = ""
    var createdAt: Int64 = 0
    var startedAt: Int64 = 0
    var finishedAt: Int64 = 0
    var exitCode: Int32?
    var oomKilled = false
    var checkpointed = false
    var terminal = false
    var execIDs: [String] = []
    var logError = ""
    var logBytesDropped: UInt64 = 0
    /// "running" or "gone".
    var shim = "running"
    var shimPid: Int32 = 0
    /// Where `status` comes from: "shim", "<runtime> state", ...
    var source = "shim"

    init(id: String, status: String) {
        self.id = id
        self.status = status
    }

    /// The shim's answer.
    init(_ state: Ocishim_V1_StateResponse, shimPid: Int32) {
        self.init(id: state.id, status: StatusName.of(state.status))
        pid = state.pid
        bundle = state.bundle
        createdAt = state.createdAt
        startedAt = state.startedAt
        finishedAt = state.finishedAt
        exitCode = state.status == .stopped ? state.exitCode : nil
        oomKilled = state.oomKilled
        checkpointed = state.checkpointed
        terminal = state.terminal
        execIDs = state.execIds
        logError = state.logError
        logBytesDropped = state.logBytesDropped
        self.shimPid = shimPid
    }

    /// A container whose shim is gone: its last record, with the status
    /// from the runtime (OrphanedContainer.currentStatus).
    init(orphan: OrphanedContainer, now: OrphanedContainer.Status) {
        self.init(id: orphan.id, status: now.status)
        if let snapshot = orphan.record?.container {
            bundle = snapshot.bundle
            createdAt = snapshot.createdAt
            startedAt = snapshot.startedAt
            finishedAt = snapshot.finishedAt
            oomKilled = snapshot.oomKilled
            checkpointed = snapshot.checkpointed
            terminal = snapshot.terminal
        }
        pid = now.pid
        exitCode = now.exitCode
        shim = "gone"
        shimPid = orphan.record?.shimPid ?? 0
        source = now.source
    }

    var json: JSONValue {
        let config = BundleFacts(bundle: bundle)
        let times: [(String, JSONValue)] = [
            ("startedAt", .string(TimeText.rfc3339(nanos: startedAt))),
            ("finishedAt", .string(TimeText.rfc3339(nanos: finishedAt))),
        ]
        return .object([
            ("ociVersion", .string(config.ociVersion)),
            ("id", .string(id)),
            ("pid", .int(Int64(pid))),
            ("status", .string(status)),
            ("bundle", .string(bundle)),
            ("rootfs", .string(config.rootfs)),
            ("created", .string(TimeText.rfc3339(nanos: createdAt))),
            ("owner", .string("")),
            ("annotations", config.annotations),
        ] + times + [
            ("exitCode", exitCode.map { .int(Int64($0)) } ?? .null),
            ("oomKilled", .bool(oomKilled)),
            ("checkpointed", .bool(checkpointed)),
            ("terminal", .bool(terminal)),
            ("execIds", .strings(execIDs)),
            ("logError", .string(logError)),
            ("logBytesDropped", .int(Int64(clamping: logBytesDropped))),
            ("shim", .string(shim)),
            ("shimPid", .int(Int64(shimPid))),
            ("source", .string(source)),
        ])
    }

    var text: String {
        var lines = ["id:       \(id)"]
        if shim == "gone" {
            lines.append("shim:     gone\(shimPid > 0 ? " (was pid \(shimPid))" : "")")
            lines.append("status:   \(status) (\(source))")
        } else {
            lines.append("status:   \(status)")
        }
        lines.append("pid:      \(pid)")
        if let exitCode {
            lines.append("exit:     \(exitCode)\(oomKilled ? " (OOM killed)" : "")\(checkpointed ? " (checkpointed)" : "")")
        }
        lines.append("bundle:   \(bundle)")
        if createdAt != 0 { lines.append("created:  \(TimeText.rfc3339(nanos: createdAt))") }
        if !execIDs.isEmpty { lines.append("execs:    \(execIDs.joined(separator: " "))") }
        if !logError.isEmpty { lines.append("log:      \(logError)") }
        return lines.joined(separator: "\n")
    }
}

/// What runc's state takes from the bundle's config.json: the spec version,
/// the rootfs (absolute), the annotations. Empty when it cannot be read.
struct BundleFacts {
    var ociVersion = ""
    var rootfs = ""
    var annotations: JSONValue = .object([])

    init(bundle: String) {
        guard !bundle.isEmpty,
              let bytes = try? FileSystem.readIfExists(FileSystem.join(bundle, "config.json"), limit: 16 << 20),
              let config = try? JSONValue(parsing: bytes) else { return }
        ociVersion = config["ociVersion"]?.stringValue ?? ""
        if let root = config["root"]?["path"]?.stringValue {
            rootfs = root.hasPrefix("/") ? root : FileSystem.join(bundle, root)
        }
        if let annotations = config["annotations"], annotations.objectValue != nil { self.annotations = annotations }
    }
}

enum StatusName {
    static func of(_ status: Ocishim_V1_ContainerStatus) -> String {
        switch status {
        case .none: "none"
        case .created: "created"
        case .running: "running"
        case .paused: "paused"
        case .stopped: "stopped"
        case .deleted: "deleted"
        default: "unknown"
        }
    }
}
