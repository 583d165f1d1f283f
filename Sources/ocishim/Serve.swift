import CShimSys
import Logging
import Glibc
import ShimCore
import ShimServer
import ShimSystem
import SystemPackage

struct Serve {
    static let spec = CommandSpec(
        name: "serve",
        abstract: "Serve one container's shim on stdin/stdout.",
        discussion: """
            The shim detaches into its own session (unless --foreground), so the engine \
            never reaps it and its death does not take the container down. The process the \
            engine started exits once the shim is up (0) or failed to start (with the shim's \
            status: 64 for a command-line error, else 1; the reason on stderr); from then on the shim's stdin and stdout are /dev/null and its own \
            messages (and stderr) go to <state-dir>/shim.log. EOF on stdin means the engine is gone; the shim then \
            keeps the container running. Without a container and without clients it exits, \
            removing the files it wrote. A state dir that a live shim serves is refused.
            """,
        options: [
            .value("id", "id", required: true, "The container id this shim serves."),
            .value("state-dir", "dir", required: true, "Directory for the shim's files (created if missing)."),
            .value("runtime", "name|path", "OCI runtime: a name looked up in the usual places and $PATH, or a path. (default: runc)"),
            .repeated("runtime-path", "path", "A candidate path for the runtime, tried first."),
            .value("runtime-root", "dir", "The runtime's --root."),
            .value("runtime-timeout", "seconds", "Seconds any runtime invocation may take. (default: 120)"),
            .value("cgroup-manager", "manager", "cgroupfs or systemd. (default: cgroupfs)"),
            .repeated("runtime-supports-json", "name", "Runtime names that print JSON errors (replaces the default list)."),
            .repeated("runtime-supports-nocgroups", "name", "Runtime names that run without cgroups."),
            .repeated("runtime-supports-kvm", "name", "Runtime names that isolate with KVM."),
            .value("log-level", "level", "The shim's own log level: debug, info, warn, error. (default: warn)"),
            .flag("syslog", "Send the shim's own log to syslog instead of stderr and <state-dir>/shim.log."),
            .flag("foreground", "Stay in the foreground: no fork, no new session, and the shim's own log stays on stderr."),
            .repeated("keep-fd", "fd", "An inherited fd to hold open for the container's life, e.g. a rootless network sync pipe."),
        ])

    var id: String
    var stateDir: String
    var runtime: String
    var runtimePaths: [String]
    var runtimeRoot: String?
    var runtimeTimeout: Double
    var cgroupManager: String
    var supportsJSON: [String]
    var supportsNoCgroups: [String]
    var supportsKVM: [String]
    var logLevel: String
    var parsedLogLevel: Logger.Level
    var syslog: Bool
    var keepFDs: [Int32]

    init(_ arguments: ParsedArguments) throws(UsageError) {
        id = try arguments.required("id")
        stateDir = try arguments.required("state-dir")
        runtime = arguments.value("runtime") ?? "runc"
        runtimePaths = arguments.values("runtime-path")
        runtimeRoot = arguments.value("runtime-root")
        runtimeTimeout = try arguments.number("runtime-timeout", default: 120.0)
        cgroupManager = arguments.value("cgroup-manager") ?? "cgroupfs"
        supportsJSON = arguments.values("runtime-supports-json")
        supportsNoCgroups = arguments.values("runtime-supports-nocgroups")
        supportsKVM = arguments.values("runtime-supports-kvm")
        logLevel = arguments.value("log-level") ?? "warn"
        syslog = arguments.flag("syslog")
        keepFDs = []
        for text in arguments.values("keep-fd") {
            guard let fd = Int32(text) else { throw UsageError("'--keep-fd': '\(text)' is not a valid fd number", usage: Self.spec.usage) }
            keepFDs.append(fd)
        }
        guard let level = ShimLogHandler.parseLevel(logLevel) else {
            throw UsageError("invalid --log-level \(logLevel): use debug, info, warn or error", usage: Self.spec.usage)
        }
        parsedLogLevel = level
        guard runtimeTimeout > 0 else { throw UsageError("--runtime-timeout must be positive", usage: Self.spec.usage) }
    }

    /// `ready`: the fd to tell the waiting parent that the shim is up on
    /// (Detach), nil in the foreground.
    func run(ready: Int32?) throws {
        var config = ShimConfig(containerID: id, stateDir: FileSystem.absolute(stateDir),
                                runtime: RuntimeSelection(runtime, extraPaths: runtimePaths))
        config.cgroupManager = cgroupManager
        config.runtimeRoot = runtimeRoot
        config.runtimeTimeoutSeconds = runtimeTimeout
        if !supportsJSON.isEmpty { config.features.json = supportsJSON }
        if !supportsNoCgroups.isEmpty { config.features.noCgroups = supportsNoCgroups }
        if !supportsKVM.isEmpty { config.features.kvm = supportsKVM }
        config.listenFDs = try inheritedListenFDs()
        config.keepFDs = try inheritedKeepFDs()

        // Everything that can be wrong with the command line is reported
        // here, before the shim is up, so the engine sees it on stderr and in
        // the exit status of the process it started (Detach).
        let createdStateDir = !FileSystem.exists(config.stateDir)
        do {
            try ShimConfig.validateContainerID(config.containerID)
            try RuntimeLocator.validateCgroupManager(config.cgroupManager)
            _ = try RuntimeLocator.resolve(config.runtime)
            try FileSystem.createDirectory(config.stateDir, mode: 0o700)
            // Before anything is written into the state dir: a live shim's
            // state.json and socket must not be overwritten by a second one.
            // The fd holding the lock is never closed: the lock lasts as long
            // as this process.
            guard !Self.socketAnswers(in: config.stateDir), try StateDirLock.acquire(stateDir: config.stateDir) != nil else {
                throw ShimStartError("another shim already serves \(config.stateDir)")
            }
        } catch let error as ShimStartError {
            throw error
        } catch {
            throw ShimStartError("\(error)")
        }
        ShimLogHandler.bootstrap(level: parsedLogLevel, sink: syslog ? .syslog : .stderr)

        _ = ocishim_set_child_subreaper()

        let server: ShimServer
        do {
            server = try ShimServer(config: config)
        } catch {
            throw ShimStartError("\(error)")
        }
        do {
            try server.listen()
        } catch {
            throw ShimStartError("cannot listen on the shim socket: \(error)")
        }
        try? FileSystem.writeAtomically(FileSystem.join(config.stateDir, "shim.pid"), "\(getpid())\n")
        server.serveStdio()
        if let ready { leaveSpawnerStdio(stateDir: config.stateDir, ready: ready) }
        let status = server.run()
        server.core.leaveShimCgroup()
        removeOwnFiles(server.core.snapshot.status, stateDir: config.stateDir, createdStateDir: createdStateDir)
        Glibc.exit(status)
    }

    /// The shim is up (listening, serving its stdio connection): its
    /// messages go to its own log, and so does its stderr (a crash report
    /// from the Swift runtime lands there; /dev/null with --syslog), and
    /// the process the engine started may exit 0. Nothing of the spawner's
    /// stdio stays open here, so a spawner reading our stderr sees EOF.
    private func leaveSpawnerStdio(stateDir: String, ready: Int32) {
        var captured = false
        if !syslog {
            do {
                try ShimLogHandler.writeToFile(FileSystem.join(stateDir, "shim.log"), limit: Self.shimLogLimit)
                captured = ShimLogHandler.captureStandardError()
            } catch {
                ShimLogHandler.discardOutput()  // rather than keep the spawner's stderr
            }
        }
        if !captured {
            let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
            if devnull >= 0 {
                dup2(devnull, 2)
                close(devnull)
            }
        }
        var byte: UInt8 = 1
        _ = write(ready, &byte, 1)
        close(ready)
    }

    /// A shim of a build without the lock still shows itself by answering
    /// on its socket.
    /// No socket, no connect: a failed connect throws, and the first throw
    /// of an error type makes the Swift runtime instantiate its Error
    /// conformance (swift_willThrowTyped), a page of every shim's memory.
    private static func socketAnswers(in stateDir: String) -> Bool {
        let path = FileSystem.join(stateDir, "shim.sock")
        guard FileSystem.exists(path),
              let fd = try? UnixSocket.connect(path: path, type: Int32(SOCK_STREAM.rawValue)) else {
            return false
        }
        try? fd.close()
        return true
    }

    /// Bytes per shim.log file; with the rotated shim.log.1, at most twice that.
    static let shimLogLimit = 512 << 10

    /// At exit: after Delete, or without ever having held a container, the
    /// shim leaves nothing of its own behind (a log at an engine-given path
    /// and exit files outside the state dir are the engine's). The state dir
    /// goes after Delete, or if this shim made it.
    private func removeOwnFiles(_ status: ContainerStatus, stateDir: String, createdStateDir: Bool) {
        guard status == .deleted || status == .none else { return }
        ShimLogHandler.discardOutput()
        for name in ShimStateFile.fileNames + ["shim.pid", "shim.log", "shim.log.1", "runtime", StateDirLock.fileName] {
            try? FileSystem.removeTree(FileSystem.join(stateDir, name))
        }
        if status == .deleted || createdStateDir { rmdir(stateDir) }
    }

    /// Socket activation: LISTEN_FDS fds (3, 4, ...) handed to the shim at
    /// spawn go on to the container. They are kept from everything else the
    /// shim starts, and the variables are dropped from the shim's environment
    /// so they reach only the runtime, set for it.
    private func inheritedListenFDs() throws -> Int {
        guard let value = getenv("LISTEN_FDS").map({ String(cString: $0) }) else { return 0 }
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDNAMES")
        guard let count = Int(value), count >= 0, count < 1024 else {
            throw ShimStartError("invalid LISTEN_FDS=\(value)")
        }
        for fd in 3..<(3 + Int32(count)) {
            guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
                throw ShimStartError("LISTEN_FDS=\(count) but fd \(fd) is not open")
            }
        }
        return count
    }

    private func inheritedKeepFDs() throws -> [FileDescriptor] {
        for fd in keepFDs {
            guard fd > 2, fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
                throw ShimStartError("--keep-fd \(fd): not an open inherited fd")
            }
        }
        return keepFDs.map(FileDescriptor.init(rawValue:))
    }
}

struct ShimStartError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = "ocishim: \(message)" }
}
