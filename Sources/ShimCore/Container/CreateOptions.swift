import SystemPackage

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
    public var providedStdio: [FileDescriptor] = []
    /// The engine's own fds the container's stdio is copied to and from
    /// (containerd's FIFOs), pipes or terminal as the bundle says; the shim
    /// takes them over, whether Create succeeds or not. `stdin` must be
    /// set when they include a stdin. Not with `providedStdio`.
    public var relayedStdio: RelayedStdio?
    /// The owner of the container's ends of its stdio pipes; nil: the
    /// shim's (see StdioOwner).
    public var stdioOwner: StdioOwner?
    /// Kill every process left in the container once its init has exited
    /// (`kill --all SIGKILL`): the kernel does that for a pid namespace's
    /// init only, so a container sharing a pid namespace would leave them
    /// behind (containerd's runc shim does the same, ShouldKillAllOnExit).
    public var killAllWhenInitExits = false
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
    public var runtimeFDs: [FileDescriptor] = []
    /// LISTEN_PID in the runtime's environment becomes the runtime's own
    /// pid, so that it takes LISTEN_FDS as its own (conmon's socket
    /// activation: --replace-listen-pid, or LISTEN_PID naming conmon).
    public var runtimeListenPid = false
    /// The shim reads the bundle's config.json before the runtime runs, to
    /// learn the process's terminal and the user namespace mappings (an
    /// unreadable one, or `terminal` where config.json has none, fails the
    /// create with the shim's words). false: config.json is not read; the
    /// runtime gets a console socket exactly when `terminal` is set, the
    /// mappings are `uidMappings`/`gidMappings` alone, and a missing or
    /// contradicting config.json is the runtime's to report (conmon runs the
    /// runtime without reading the bundle and passes its error on).
    public var readBundleConfig = true
    /// A failed create (the runtime's failure, or anything after the
    /// attach endpoints were made) leaves the attach socket's file, its
    /// `<socket-dir>` link and the control FIFOs where they are, with the
    /// shim's fds on them closed. false: they go with everything else the
    /// create made. (conmon leaves them in the bundle, where its engine
    /// cleans up; `ocishim serve` removes them.)
    public var keepEndpointsAfterFailure = false
    /// Clients of the attach socket that connect before the runtime has
    /// made the process wait in the socket's listen backlog and are
    /// accepted once it exists; if it never does, they are reset when the
    /// socket closes. false: they are accepted at once (and get an orderly
    /// end after a failed create). conmon serves its socket only once the
    /// runtime has returned, unless a terminal is coming.
    public var attachClientsWaitForProcess = false

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
    /// k8s-file: the most bytes of a line one record holds (LogConfig.recordLimit).
    public var recordLimit: Int?
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
