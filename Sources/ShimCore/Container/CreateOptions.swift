/// Everything Create needs, as the engine gives it (podman hands the same to
/// conmon and runc). Defaults come from the shim's configuration and state dir.
public struct CreateOptions: Sendable {
    public var bundle: String
    public var terminal = false
    public var stdin = false
    public var leaveStdinOpen = false
    public var log = LogOptions()
    public var exitDir: String?
    public var exitCommand: [String] = []
    public var exitDelaySeconds: UInt32 = 0
    public var noPivot = false
    public var noNewKeyring = false
    public var runtimePath: String?
    public var runtimeRoot: String?
    public var runtimeGlobalArgs: [String] = []
    public var runtimeCreateArgs: [String] = []
    public var runtimeTimeoutSeconds: Double?
    public var runtimeEnvironment: [String] = []
    public var cgroupManager: String?
    public var cgroupParent = ""
    public var noCgroups = false
    public var processLabel = ""
    public var mountLabel = ""
    public var reservePorts: [PortSpec] = []
    public var restore: RestoreOptions?
    public var pidFile: String?
    public var socketDir: String?
    public var fullAttach = false
    /// The name of the `<socket-dir>/<name>` link to the bundle through which
    /// the attach socket is reached; nil: the container id. (conmon's
    /// --cuuid names it.)
    public var attachLinkName: String?
    public var uidMappings: [IDMap] = []
    public var gidMappings: [IDMap] = []
    public var makeAccessible: [String] = []
    public var privileged = false
    public var detachKeys = ""
    public var shimPidFile: String?
    public var persistDir: String?
    /// Empty, or the shim's fds to hand the container as its stdin, stdout
    /// and stderr as they are: nothing is read, logged or attachable (an
    /// engine that gives the container its own stdio, as conmon's
    /// `--log-path passthrough`). Not with a terminal.
    public var providedStdio: [Int32] = []
    /// The engine's own fds the container's stdio is copied to and from
    /// (containerd's FIFOs), pipes or terminal as the bundle says; the shim
    /// takes them over, whether Create succeeds or not. `stdin` must be
    /// set when they include a stdin. Not with `providedStdio`.
    public var relayedStdio: RelayedStdio?
    /// Kill every process left in the container once its init has exited
    /// (`kill --all SIGKILL`): the kernel does that for a pid namespace's
    /// init only, so a container sharing a pid namespace would leave them
    /// behind (containerd's runc shim does the same, ShouldKillAllOnExit).
    public var killAllWhenInitExits = false
    /// false: no attach socket and no control FIFOs for the container (an
    /// engine that relays its stdio and resizes through its own calls).
    public var attachEndpoints = true

    public init(bundle: String) {
        self.bundle = bundle
    }
}

/// Where and how the container's output is logged.
public struct LogOptions: Sendable {
    /// Empty: k8s-file at <state-dir>/ctr.log.
    public var drivers: [LogDriverKind] = []
    public var sizeMax: Int64 = -1
    public var maxFiles = 0
    public var tag = ""
    public var containerName = ""
    public init() {}
}

/// Restore from a checkpoint instead of creating (conmon's --restore).
public struct RestoreOptions: Sendable {
    public var imagePath: String
    public var workPath: String?
    public var tcpEstablished = false
    public var fileLocks = false
    public var runtimeArgs: [String] = []

    public init(imagePath: String) {
        self.imagePath = imagePath
    }
}
