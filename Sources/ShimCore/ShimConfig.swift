import SystemPackage

/// How a shim was started: identity, where its files live, which runtime it
/// drives. Filled from `ocishim serve` options; fixed for the shim's life.
public struct ShimConfig: Sendable {
    public var containerID: String
    /// Holds the shim's own files: state, socket, pid file, default log.
    public var stateDir: String
    public var runtime: RuntimeSelection
    /// "cgroupfs" or "systemd", as podman accepts.
    public var cgroupManager: String = "cgroupfs"
    /// --root for the runtime; nil: the runtime's default.
    public var runtimeRoot: String?
    /// Seconds any one runtime invocation may take before it is killed.
    public var runtimeTimeoutSeconds: Double = 120
    /// Seconds a process is given to be seen exiting after SIGKILL (Stop,
    /// ExecStop, a forced Delete, a checkpoint that stopped the container)
    /// before the call gives up on it.
    public var killGraceSeconds: Double = 5
    public var features = RuntimeFeatureLists()
    /// Socket activation: fds 3..3+listenFDs-1 the engine handed the shim
    /// (LISTEN_FDS), passed on to the container.
    public var listenFDs = 0
    /// Other inherited fds the engine asked the shim to hold open for the
    /// container's life (e.g. rootless network sync pipes).
    public var keepFDs: [FileDescriptor] = []

    public init(containerID: String, stateDir: String, runtime: RuntimeSelection) {
        self.containerID = containerID
        self.stateDir = stateDir
        self.runtime = runtime
    }

    /// Container ids as runc and podman accept them: no path separators, no
    /// leading dot, printable.
    public static func validateContainerID(_ id: String) throws(CoreError) {
        guard !id.isEmpty else { throw .invalid("container id must not be empty") }
        guard id.utf8.count <= 1024 else { throw .invalid("container id is longer than 1024 bytes") }
        let allowed = { (c: UInt8) -> Bool in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
        guard id.utf8.allSatisfy(allowed), id.utf8.first != UInt8(ascii: "."), id.utf8.first != UInt8(ascii: "-") else {
            throw .invalid("invalid container id \"\(id)\": use letters, digits, '_', '-' and '.', not starting with '.' or '-'")
        }
    }
}

/// The runtimes known to support optional features, by name, as podman's
/// containers.conf lists them (runtime_supports_json, _nocgroups, _kvm).
public struct RuntimeFeatureLists: Sendable {
    public var json = ["crun", "runc", "kata", "runsc", "youki", "krun"]
    public var noCgroups = ["crun", "krun"]
    public var kvm = ["kata", "kata-runtime", "kata-qemu", "kata-fc", "krun"]
    public init() {}
}
