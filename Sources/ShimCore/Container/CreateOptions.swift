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
    /// The directory of the init's engine-facing files: its attach socket
    /// (`<dir>/attach`, which the `<socket-dir>/<name>` link points to), the
    /// control FIFOs `ctl` and `winsz`, and the `oom` marker. nil: the
    /// bundle, where conmon keeps them (it runs in the bundle) and podman
    /// looks for them. A front end that must not write into the engine's
    /// bundle (`ocishim serve`) names its own directory, so two containers
    /// of one bundle do not replace each other's files.
    public var endpointsDir: String?
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
    /// The runtime reports its errors on its stderr (no `--log` JSON file
    /// of the shim's); a failed create's error then carries that stderr as
    /// written (CoreError.runtimeOutput), as conmon passes it on.
    public var runtimeErrorsOnStderr = false
    /// The control FIFOs (`ctl`, `winsz`) in the bundle; false when the
    /// engine's front end serves them itself.
    public var controlFIFOs = true
    /// The attach socket in the bundle; false: nothing to attach to (conmon
    /// with `--log-path passthrough`).
    public var attachSocket = true
    /// The `<socket-dir>/<name>` link stays when the attach socket goes
    /// (conmon leaves it).
    public var attachLinkStays = false
    /// The shim's fds handed to the runtime at the same numbers (conmon
    /// leaves what the engine gave it open for the runtime, which hands
    /// fds 3.. on with `--preserve-fds`).
    public var runtimeFDs: [Int32] = []
    /// LISTEN_PID in the runtime's environment becomes the runtime's own
    /// pid, so that it takes LISTEN_FDS as its own (conmon's socket
    /// activation: --replace-listen-pid, or LISTEN_PID naming conmon).
    public var runtimeListenPid = false

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
    /// All output ever written to the k8s-file log; what comes after is
    /// dropped. <= 0: unlimited.
    public var totalSizeMax: Int64 = -1
    public var tag = ""
    public var containerName = ""
    /// Open a k8s-file path that is a symlink through it (conmon does); by
    /// default such a path is refused (LogFile).
    public var followSymlinks = false
    /// journald: extra fields, "NAME=VALUE".
    public var labels: [String] = []
    /// journald: CONTAINER_PARTIAL_MESSAGE=true on records of partial lines.
    public var partialMessageField = true
    /// A reopen (ReopenLog, ctl "2") starts the file over as the size limit
    /// does (conmon), instead of reopening what is at the path.
    public var reopenStartsOver = false
    /// fsync the log once the container has exited.
    public var syncOnExit = true
    /// The mode new log files are created with.
    public var fileMode: UInt32 = 0o600
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
