import Glibc
import ShimCore
import ShimSystem
import SystemPackage

/// A conmon command line checked as conmon's process_cli and
/// configure_log_drivers check it — the same checks, in the same order,
/// failing with the same words (ConmonFailure) — and turned into what the
/// core needs.
public struct MonitorPlan: Sendable {
    public enum Mode: Sendable, Equatable { case create, restore, exec }

    /// What the checks ask of the system, replaceable in tests.
    public struct System: Sendable {
        public var access: @Sendable (String, Int32) -> Int32 = { path, mode in Glibc.access(path, mode) == 0 ? 0 : errno }
        public var isatty: @Sendable (Int32) -> Bool = { Glibc.isatty($0) == 1 }
        public var getenv: @Sendable (String) -> String? = { ParentPipes.processVariable($0) }
        /// Opens (creates) the k8s-file log as conmon does before it forks;
        /// 0 or the errno.
        public var openLog: @Sendable (String) -> Int32 = { path in
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, MonitorPlan.logFileMode)
            if fd < 0 { return errno }
            Glibc.close(fd)
            return 0
        }
        public init() {}
    }

    /// conmon 2.2 creates the log file 0640 (2.1.6: 0600).
    public static let logFileMode: mode_t = 0o640

    public let options: ConmonOptions
    public let mode: Mode
    public let containerID: String
    /// --cuuid; nil only for the legacy exec API.
    public let containerUUID: String?
    public let runtimePath: String
    /// nil only for an exec without -b (no attach socket, no FIFOs).
    public let bundle: String?
    public let containerPidFile: String
    public let logDrivers: [LogDriverKind]
    /// `-l passthrough`: the container gets the monitor's own stdio.
    public let passthrough: Bool
    public let execProcessSpec: String?
    /// --seccomp-notify-plugins, or CONMON_SECCOMP_NOTIFY_PLUGINS.
    public let seccompNotifyPlugins: String?
    public let workingDirectory: String

    public init(_ options: ConmonOptions, workingDirectory cwd: String, system: System = System()) throws(ConmonFailure) {
        self.options = options
        workingDirectory = cwd
        guard let cid = options.containerID else { throw .nexit("Container ID not provided. Use --cid") }
        containerID = cid
        if let level = options.logLevel, ConmonLog.parseLevel(level) == nil {
            throw .nexitf("No such log level \(level)")
        }
        if options.restorePath != nil && options.exec {
            throw .nexit("Cannot use 'exec' and 'restore' at the same time")
        }
        if !options.exec && options.execAttach { throw .nexit("Attach can only be specified with exec") }
        if options.apiVersion < 1 && options.execAttach {
            throw .nexit("Attach can only be specified for a non-legacy exec session")
        }
        // The legacy exec API needs no --cuuid.
        if options.containerUUID == nil && (!options.exec || options.apiVersion >= 1) {
            throw .nexit("Container UUID not provided. Use --cuuid")
        }
        containerUUID = options.containerUUID
        seccompNotifyPlugins = options.seccompNotifyPlugins ?? system.getenv("CONMON_SECCOMP_NOTIFY_PLUGINS")
        guard let runtime = options.runtimePath else { throw .nexit("Runtime path not provided. Use --runtime") }
        // Only access(X_OK): a directory passes, and fails when it is run.
        let denied = system.access(runtime, X_OK)
        if denied != 0 { throw .pexitf("Runtime path \(runtime) is not valid", errno: denied) }
        runtimePath = runtime
        if options.exec && options.execProcessSpec == nil {
            throw .nexit("Exec process spec path not provided. Use --exec-process-spec")
        }
        let absolute = { (path: String) in path.hasPrefix("/") ? path : FileSystem.join(cwd, path) }
        // An exec's bundle is where its attach socket goes: none without -b.
        bundle = options.bundle.map(absolute) ?? (options.exec ? nil : cwd)
        if options.exitDelay < 0 {
            throw .nexit("Delay before invoking exit command must be greater than or equal to 0")
        }
        // conmon 2.2's bounds of --log-max-files.
        if options.logMaxFiles < 0 { throw .nexit("log-max-files must be non-negative") }
        if options.logMaxFiles > 1000 { throw .nexit("log-max-files cannot exceed 1000") }
        if options.logRotate && options.logMaxFiles == 0 {
            throw .nexit("log-max-files must be at least 1 when log-rotate is enabled")
        }
        mode = options.exec ? .exec : options.restorePath != nil ? .restore : .create
        containerPidFile = absolute(options.containerPidFile ?? FileSystem.join(cwd, "pidfile-\(cid)"))
        execProcessSpec = options.execProcessSpec.map(absolute)
        (logDrivers, passthrough) = try Self.configureLogDrivers(options, system: system, absolute: absolute)
    }

    /// conmon's configure_log_drivers: each -l in order (parse_log_path),
    /// then the k8s-file log is opened (created), then the drivers' own
    /// checks.
    static func configureLogDrivers(_ options: ConmonOptions, system: System, absolute: (String) -> String)
        throws(ConmonFailure) -> ([LogDriverKind], passthrough: Bool) {
        guard !options.logDrivers.isEmpty else { throw .nexit("Log driver not provided. Use --log-path") }
        var k8sPath: String?
        var journald = false
        var passthrough = false
        for spec in options.logDrivers {
            switch try parseLogPath(spec, isatty: system.isatty) {
            case .none: break
            case .passthrough: passthrough = true
            case .journald: journald = true
            case .k8sFile(let path): k8sPath = path  // the last one wins, as in conmon
            }
        }
        if let path = k8sPath {
            let failed = system.openLog(path)
            if failed != 0 { throw .pexit("Failed to open log file", errno: failed) }
            if !journald && options.logTag != nil { throw .nexit("k8s-file doesn't support --log-tag") }
            if !journald && !options.logLabels.isEmpty { throw .nexit("k8s-file doesn't support --log-label") }
        }
        if journald {
            // journald's CONTAINER_ID is the id's first characters (the core's rule).
            let minimum = LogConfig.journaldShortIDLength
            guard let cid = options.containerID, cid.utf8.count > minimum else {
                throw .nexit("Container ID must be longer than \(minimum) characters")
            }
            for label in options.logLabels {
                if label.hasPrefix("=") {
                    throw .nexitf("Container labels must be in format LABEL=VALUE (no LABEL present in '\(label)')")
                }
                if label.filter({ $0 == "=" }).count != 1 {
                    throw .nexitf("Container labels must be in format LABEL=VALUE (none or more than one '=' present in '\(label)')")
                }
                let name = label.prefix { $0 != "=" }
                if !name.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) {
                    throw .nexitf("Container label names must contain only uppercase letters, numbers and underscore (in '\(label)')")
                }
            }
        }
        var drivers: [LogDriverKind] = []
        if let k8sPath { drivers.append(.k8sFile(path: absolute(k8sPath))) }
        if journald { drivers.append(.journald()) }
        return (drivers, passthrough)
    }

    enum ParsedLogPath: Equatable { case none, passthrough, journald, k8sFile(String) }

    /// conmon's parse_log_path, strtok and all: the driver is the first
    /// ':'-separated token and the path the second (a third is dropped);
    /// ":PATH" and "PATH" are k8s-file; "none", "off", "null" are nothing.
    static func parseLogPath(_ spec: String, isatty: (Int32) -> Bool) throws(ConmonFailure) -> ParsedLogPath {
        let tokens = spec.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        guard var driver = tokens.first else { throw .nexitf("log-path must not be empty") }
        var path = tokens.count > 1 ? tokens[1] : nil
        if path == nil && spec.hasPrefix(":") {
            path = driver
            driver = "k8s-file"
        }
        switch driver {
        case "off", "null", "none":
            return .none
        case "passthrough":
            if isatty(0) || isatty(1) || isatty(2) {
                throw .nexitf("cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI")
            }
            return .passthrough
        case "journald":
            return .journald
        case "k8s-file":
            guard let path else { throw .nexitf("k8s-file requires a filename") }
            return .k8sFile(path)
        default:
            if path == nil && !spec.contains(":") { return .k8sFile(driver) }
            throw .nexitf("No such log driver \(driver)")
        }
    }

    // --- the mapping onto the core ---------------------------------------------------------

    /// The core's configuration: the container's id, a private state dir,
    /// the runtime by path, inherited fds to hold for the container's life.
    public func shimConfig(stateDir: String, keepFDs: [FileDescriptor]) -> ShimConfig {
        var runtime = RuntimeSelection(runtimePath.hasPrefix("/") ? runtimePath : FileSystem.join(workingDirectory, runtimePath))
        runtime.asGiven = true
        var config = ShimConfig(containerID: containerID, stateDir: stateDir, runtime: runtime)
        // -s: runc's --systemd-cgroup for create/restore only (conmon adds
        // it to neither exec nor the engine's own calls).
        config.cgroupManager = options.systemdCgroup && mode != .exec ? "systemd" : "cgroupfs"
        config.keepFDs = keepFDs
        return config
    }

    /// The log as conmon keeps it: its size limit and what happens at it
    /// (start over, or conmon 2.2's rotation), the total limit, the fsync.
    public var logOptions: LogOptions {
        var log = LogOptions()
        // Nothing to log (none, off, null, passthrough): .none, not the
        // core's default file.
        log.drivers = logDrivers.isEmpty ? [.none] : logDrivers
        log.sizeMax = options.logSizeMax
        // conmon 2.2 shifts path.1 ... path.N and keeps at least two.
        log.maxFiles = options.logRotate ? max(2, Int(options.logMaxFiles)) : 0
        log.totalSizeMax = options.logGlobalSizeMax
        log.tag = options.logTag ?? ""
        log.containerName = options.name ?? ""
        log.labels = options.logLabels
        log.partialMessageField = !options.noContainerPartialMessage
        log.reopenStartsOver = true
        log.syncOnExit = !options.noSyncLog
        log.fileMode = Self.logFileMode
        // conmon opens the log path as given, through a symlink too.
        log.followSymlinks = true
        // conmon reads 8 KiB at a time (STDIO_BUF_SIZE): no record of its
        // holds more of a line.
        log.recordLimit = 8192
        return log
    }

    /// The exec session (-e): the engine's spec as it is, in the exec
    /// bundle (when there is one), its output logged as -l says.
    public func execOptions(sessionID: String, stateDir: String) -> ExecOptions {
        var exec = ExecOptions(execID: sessionID, args: [])
        exec.processSpecPath = execProcessSpec
        exec.directory = bundle ?? FileSystem.join(stateDir, "exec")
        exec.attachSocket = bundle != nil && !passthrough
        exec.controlFIFOs = false
        exec.attachLinkStays = true
        // conmon leaves its socket when runc exec fails, and accepts
        // clients only after runc exec returned (at once with a terminal:
        // its loop runs meanwhile, waiting for the console).
        exec.keepEndpointsAfterFailure = true
        exec.attachClientsWaitForProcess = !options.terminal
        exec.fullAttach = options.fullAttach
        exec.terminal = options.terminal
        exec.stdin = options.stdin
        exec.timeoutSeconds = UInt32(clamping: options.timeout)
        exec.runtimeArgs = options.runtimeOpts
        exec.log = logOptions
        // conmon writes an exec's exit where it writes a container's, runs
        // the exit command after it, reports -1 for a timeout, and does all
        // of it once its attach clients have the output.
        exec.exitFiles = (options.persistDir.map { [FileSystem.join($0, "exit")] } ?? [])
            + (options.exitDir.map { [FileSystem.join($0, containerID)] } ?? [])
        exec.timeoutExitCode = -1
        exec.announceAfterAttachClients = true
        return exec
    }

    /// --exit-command with its --exit-command-arg and --exit-delay.
    public var exitCommand: ExitCommandSpec? {
        guard let command = options.exitCommand else { return nil }
        return ExitCommandSpec(argv: [command] + options.exitCommandArgs, delaySeconds: UInt32(clamping: options.exitDelay))
    }

    /// What the core creates (or restores).
    public func createOptions(providedStdio: [FileDescriptor]) -> CreateOptions {
        var create = CreateOptions(bundle: bundle ?? workingDirectory)
        create.terminal = options.terminal
        create.stdin = options.stdin
        create.leaveStdinOpen = options.leaveStdinOpen
        create.log = logOptions
        create.noPivot = options.noPivot
        create.noNewKeyring = options.noNewKeyring
        create.runtimePath = runtimePath.hasPrefix("/") ? runtimePath : FileSystem.join(workingDirectory, runtimePath)
        create.runtimeGlobalArgs = options.runtimeArgs
        create.runtimeCreateArgs = options.runtimeOpts
        create.runtimeErrorsOnStderr = true
        create.cgroupManager = options.systemdCgroup ? "systemd" : "cgroupfs"
        // podman has already put the monitor into the container's cgroup
        // (moveConmonToCgroupAndSignal) before it wrote to the start pipe.
        create.cgroupParent = ""
        if let image = options.restorePath { create.restore = RestoreOptions(imagePath: image) }
        create.pidFile = containerPidFile
        create.socketDir = options.socketDirPath
        create.fullAttach = options.fullAttach
        create.attachLinkName = containerUUID
        create.providedStdio = providedStdio
        create.controlFIFOs = false
        create.attachLinkStays = true
        create.attachSocket = !passthrough
        // conmon runs the runtime without reading config.json (-t alone
        // decides the console socket), makes its attach socket before the
        // runtime runs and leaves it when the runtime fails, and accepts
        // clients only once the runtime has returned (at once with a
        // terminal: its loop runs meanwhile, waiting for the console).
        create.readBundleConfig = false
        create.keepEndpointsAfterFailure = true
        create.attachClientsWaitForProcess = !options.terminal
        return create
    }
}
