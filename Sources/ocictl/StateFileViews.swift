import ShimCore

/// What ocictl reads from a shim's state.json (ShimStateFile, the type the
/// shim writes it with): `ps`, and every command that falls back to the
/// runtime once the shim is gone.
extension ShimStateFile {
    /// The container's status as the shim last recorded it ("none" before
    /// a Create succeeded).
    var status: String { container?.status.rawValue ?? "none" }
    var pid: Int32 { container?.pid ?? 0 }
    var exitCode: Int32? { container?.exitCode }
    var bundle: String { container?.bundle ?? "" }
    var logPath: String? { paths["log"] }

    /// The runtime the container was created with; nil in state files of
    /// shims that did not record it.
    var recordedRuntime: RecordedRuntime? {
        runtime.map { RecordedRuntime(path: $0.path, root: $0.root, args: $0.args) }
    }
}
