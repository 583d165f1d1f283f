import ShimSystem

/// Where the shim keeps its files. containerd runs a shim in the task's
/// bundle (`<state>/io.containerd.runtime.v2.task/<namespace>/<id>`: its
/// config.json, rootfs, `address`, the `log` FIFO) and removes the bundle
/// after the task is deleted; the core's own files (state.json with the
/// runtime and its root, which `delete` needs after a shim died; the init's
/// pid file; exec sessions) go in a directory of their own inside it.
struct ShimPaths {
    let bundle: String

    var stateDir: String { FileSystem.join(bundle, "ocishim") }
    /// The core's default pid file (ContainerPaths).
    var initPidFile: String { FileSystem.join(stateDir, "pidfile") }
    var criuWorkDir: String { FileSystem.join(stateDir, "criu-work") }
    /// Exec's process spec, until the core has copied it.
    func execSpecFile(_ execID: String) -> String { FileSystem.join(stateDir, "exec-spec-\(execID).json") }

    /// containerd's runc shim runs runc with `--root <root>/<namespace>`,
    /// the root being /run/containerd/runc unless the runtime options name
    /// one (pkg/process RuncRoot, NewRunc).
    static let defaultRuntimeRootBase = "/run/containerd/runc"

    static func runtimeRoot(base: String, namespace: String) -> String {
        FileSystem.join(base.isEmpty ? defaultRuntimeRootBase : base, namespace)
    }

    static func defaultRuntimeRoot(namespace: String) -> String { runtimeRoot(base: "", namespace: namespace) }
}
