import Glibc
import Logging
import ShimCore
import ShimSystem

/// A conmon command line checked for consistency, as conmon's process_cli
/// checks it, and turned into what the core needs: its configuration and
/// the container's CreateOptions. Errors carry conmon's wording.
public struct MonitorPlan: Sendable {
    public enum Mode: Sendable, Equatable { case create, restore, exec }

    public let options: ConmonOptions
    public let mode: Mode
    public let containerID: String
    public let containerUUID: String
    public let runtimePath: String
    public let bundle: String
    public let containerPidFile: String
    public let logDrivers: [LogDriverKind]
    /// `-l passthrough`: the container gets the monitor's own stdio.
    public let passthrough: Bool
    public let logLevel: Logger.Level
    /// -e: the engine's process spec.
    public let execProcessSpec: String?

    public init(_ options: ConmonOptions, workingDirectory: String) throws(ConmonError) {
        self.options = options
        guard let cid = options.containerID else { throw ConmonError("Container ID not provided. Use --cid") }
        containerID = cid
        guard let level = ShimLogHandler.parseLevel(options.logLevel ?? "warn") else {
            throw ConmonError("No such log level \(options.logLevel ?? "")")
        }
        logLevel = level
        if options.restorePath != nil && options.exec {
            throw ConmonError("Cannot use 'exec' and 'restore' at the same time")
        }
        if !options.exec && options.execAttach { throw ConmonError("Attach can only be specified with exec") }
        if options.apiVersion < 1 && options.execAttach {
            throw ConmonError("Attach can only be specified for a non-legacy exec session")
        }
        if options.exec && options.apiVersion < 1 {
            throw ConmonError("the legacy exec API (exec without --api-version 1) is not supported by ocishim-conmon")
        }
        guard let uuid = options.containerUUID else { throw ConmonError("Container UUID not provided. Use --cuuid") }
        containerUUID = uuid
        guard let runtime = options.runtimePath, !runtime.isEmpty else {
            throw ConmonError("Runtime path not provided. Use --runtime")
        }
        runtimePath = runtime
        if options.exec && options.execProcessSpec == nil {
            throw ConmonError("Exec process spec path not provided. Use --exec-process-spec")
        }
        if options.exitDelay < 0 {
            throw ConmonError("Delay before invoking exit command must be greater than or equal to 0")
        }
        if options.timeout < 0 { throw ConmonError("Timeout must be greater than or equal to 0") }
        if options.exitCommand == nil && !options.exitCommandArgs.isEmpty {
            throw ConmonError("--exit-command-arg given without --exit-command")
        }
        mode = options.exec ? .exec : options.restorePath != nil ? .restore : .create
        let absolute = { (path: String) in path.hasPrefix("/") ? path : FileSystem.join(workingDirectory, path) }
        bundle = absolute(options.bundle ?? workingDirectory)
        containerPidFile = absolute(options.containerPidFile ?? FileSystem.join(workingDirectory, "pidfile-\(cid)"))
        execProcessSpec = options.execProcessSpec.map(absolute)
        (logDrivers, passthrough) = try Self.logDrivers(options.logDrivers, absolute: absolute)
        if passthrough && options.terminal {
            throw ConmonError("cannot use a terminal (-t) with passthrough logging")
        }
        // The core's rules for the log configuration, in conmon's words.
        switch LogConfig(drivers: logDrivers, tag: options.logTag ?? "", containerID: cid).problem {
        case .tagWithoutJournald?: throw ConmonError("k8s-file doesn't support --log-tag")
        case .containerIDTooShort(let minimum)?: throw ConmonError("Container ID must be longer than \(minimum) characters")
        default: break
        }
        if mode == .exec {
            // conmon sets up no attach socket for an exec without a bundle
            // (its legacy exec); podman always passes one.
            guard options.bundle != nil else {
                throw ConmonError("exec without --bundle (no attach socket) is not supported by ocishim-conmon")
            }
            guard logDrivers.allSatisfy({ $0 == .none }), !passthrough else {
                throw ConmonError("an exec session's output is not logged by ocishim-conmon: use --log-path none with --exec")
            }
            if options.runtimeOpts.contains(where: { $0 == "--preserve-fds" || $0.hasPrefix("--preserve-fds=") }) {
                throw ConmonError("--runtime-opt --preserve-fds is not supported by ocishim-conmon (inherited fds are not passed to the exec)")
            }
        }
    }

    /// conmon's parse_log_path for each -l: `k8s-file:PATH`, `:PATH` or
    /// `PATH` (k8s-file), `journald[:ignored]`, `none`/`off`/`null`,
    /// `passthrough`. At least one is required.
    static func logDrivers(_ specs: [String], absolute: (String) -> String) throws(ConmonError)
        -> ([LogDriverKind], passthrough: Bool) {
        guard !specs.isEmpty else { throw ConmonError("Log driver not provided. Use --log-path") }
        var drivers: [LogDriverKind] = []
        var passthrough = false
        for spec in specs {
            let trimmed = spec.drop { $0 == ":" }
            guard !trimmed.isEmpty else { throw ConmonError("log-path must not be empty") }
            let driver: String
            let path: String?
            if spec.hasPrefix(":") {
                // ":PATH" is a file, not a driver name.
                (driver, path) = ("k8s-file", String(trimmed))
            } else if let colon = spec.firstIndex(of: ":") {
                let rest = spec[spec.index(after: colon)...]
                (driver, path) = (String(spec[..<colon]), rest.isEmpty ? nil : String(rest))
            } else {
                (driver, path) = (spec, nil)
            }
            switch driver {
            case "off", "null", "none":
                drivers.append(.none)
            case "passthrough":
                passthrough = true
            case "journald":
                drivers.append(.journald())
            case "k8s-file":
                guard let path else { throw ConmonError("k8s-file requires a filename") }
                drivers.append(.k8sFile(path: absolute(path)))
            default:
                guard path == nil, !spec.contains(":") else { throw ConmonError("No such log driver \(driver)") }
                drivers.append(.k8sFile(path: absolute(spec)))
            }
        }
        if passthrough && drivers.contains(where: { $0 != .none }) {
            throw ConmonError("passthrough logging cannot be combined with another log driver")
        }
        return (drivers, passthrough)
    }

    /// The checks conmon makes of the file system before it forks, plus the
    /// ones conmon only fails on later (an unwritable exit dir, a missing
    /// bundle): an engine hears about them before anything was started.
    public func preflight() throws(ConmonError) {
        if access(runtimePath, X_OK) != 0 {
            throw ConmonError("Runtime path \(runtimePath) is not valid: \(String(cString: strerror(errno)))")
        }
        guard FileSystem.isRegularFile(runtimePath) else {
            throw ConmonError("Runtime path \(runtimePath) is not valid: not a regular file")
        }
        if mode != .exec {
            guard FileSystem.isRegularFile(FileSystem.join(bundle, "config.json")) else {
                throw ConmonError("bundle \(bundle) has no config.json")
            }
        } else if let spec = execProcessSpec, access(spec, R_OK) != 0 {
            throw ConmonError("Exec process spec \(spec) cannot be read: \(String(cString: strerror(errno)))")
        }
        for (what, dir) in [("exit", options.exitDir), ("persist", options.persistDir)] {
            guard let dir else { continue }
            try Self.checkWritableDirectory(dir, what: what)
        }
        if passthrough {
            for fd in Int32(0)...2 where isatty(fd) == 1 {
                throw ConmonError("cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI")
            }
        }
    }

    /// Creates `dir` if missing and proves it writable by creating a file in
    /// it (access(2) says yes to root on a read-only or immutable dir).
    static func checkWritableDirectory(_ dir: String, what: String) throws(ConmonError) {
        do {
            try FileSystem.createDirectory(dir, mode: 0o700)
        } catch {
            throw ConmonError("cannot create \(what) directory \(dir): \(error)")
        }
        let probe = FileSystem.join(dir, ".ocishim-conmon-probe-\(getpid())")
        let fd = open(probe, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ConmonError("\(what) directory \(dir) is not writable: \(String(cString: strerror(errno)))")
        }
        close(fd)
        unlink(probe)
    }

    /// The core's configuration: the container's id, a private state dir,
    /// the runtime by path, inherited fds to hold for the container's life.
    public func shimConfig(stateDir: String, keepFDs: [Int32]) -> ShimConfig {
        var config = ShimConfig(containerID: containerID, stateDir: stateDir,
                                runtime: RuntimeSelection(runtimePath))
        // -s: runc's --systemd-cgroup for create/restore only (conmon adds
        // it to neither exec nor the engine's own calls).
        config.cgroupManager = options.systemdCgroup && mode != .exec ? "systemd" : "cgroupfs"
        config.keepFDs = keepFDs
        return config
    }

    /// The runtime's JSON error log the engine asked for with `--runtime-arg
    /// --log PATH` (podman does, outside debug mode). The runtime then writes
    /// its errors there rather than to the log the core would read.
    public var engineRuntimeLog: String? {
        var path: String?
        var args = options.runtimeArgs[...]
        while let arg = args.popFirst() {
            if arg == "--log" || arg == "-log" {
                path = args.popFirst()
            } else if arg.hasPrefix("--log=") {
                path = String(arg.dropFirst("--log=".count))
            }
        }
        return path
    }

    /// The exec session (-e): the engine's spec as it is, in the exec
    /// bundle, with its attach socket where conmon puts it.
    public func execOptions() -> ExecOptions {
        var exec = ExecOptions(execID: containerUUID, args: [])
        exec.processSpecPath = execProcessSpec
        exec.directory = bundle
        exec.fullAttach = options.fullAttach
        exec.terminal = options.terminal
        exec.stdin = options.stdin
        exec.timeoutSeconds = UInt32(clamping: options.timeout)
        exec.runtimeArgs = options.runtimeOpts
        // conmon writes an exec's exit where it writes a container's, runs
        // the exit command after it, reports -1 for a timeout, and does all
        // of it once its attach clients have the output.
        exec.exitFiles = (options.exitDir.map { [FileSystem.join($0, containerID)] } ?? [])
            + (options.persistDir.map { [FileSystem.join($0, "exit")] } ?? [])
        exec.exitCommand = exitCommand
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
    public func createOptions(providedStdio: [Int32]) -> CreateOptions {
        var create = CreateOptions(bundle: bundle)
        create.terminal = options.terminal
        create.stdin = options.stdin
        create.leaveStdinOpen = options.leaveStdinOpen
        create.log.drivers = logDrivers.isEmpty && passthrough ? [.none] : logDrivers
        create.log.sizeMax = options.logSizeMax
        create.log.tag = options.logTag ?? ""
        create.log.containerName = options.name ?? ""
        // conmon opens the log path as given, through a symlink too.
        create.log.followSymlinks = true
        create.exitDir = options.exitDir
        if let command = options.exitCommand {
            create.exitCommand = [command] + options.exitCommandArgs
        }
        create.exitDelaySeconds = UInt32(clamping: options.exitDelay)
        create.noPivot = options.noPivot
        create.noNewKeyring = options.noNewKeyring
        create.runtimePath = runtimePath
        create.runtimeGlobalArgs = options.runtimeArgs
        create.runtimeCreateArgs = options.runtimeOpts
        create.cgroupManager = options.systemdCgroup ? "systemd" : "cgroupfs"
        // podman has already put the monitor into the container's cgroup
        // (moveConmonToCgroupAndSignal) before it wrote to the start pipe.
        create.cgroupParent = ""
        if let image = options.restorePath { create.restore = RestoreOptions(imagePath: image) }
        create.pidFile = containerPidFile
        create.socketDir = options.socketDirPath
        create.fullAttach = options.fullAttach
        create.attachLinkName = containerUUID
        create.persistDir = options.persistDir
        create.providedStdio = providedStdio
        return create
    }
}
