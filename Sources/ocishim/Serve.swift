import ArgumentParser
import CShimSys
import Glibc
import ShimCore
import ShimServer
import ShimSystem

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve one container's shim on stdin/stdout.",
        discussion: """
            The shim detaches into its own session (unless --foreground), so the engine \
            never reaps it and its death does not take the container down. EOF on stdin \
            means the engine is gone; the shim then keeps the container running. Without \
            a container and without clients it exits.
            """)

    @Option(help: "The container id this shim serves.")
    var id: String

    @Option(name: .customLong("state-dir"), help: "Directory for the shim's files (created if missing).")
    var stateDir: String

    @Option(help: "OCI runtime: a name looked up in the usual places and $PATH, or a path.")
    var runtime = "runc"

    @Option(name: .customLong("runtime-path"), help: "A candidate path for the runtime, tried first (repeatable).")
    var runtimePaths: [String] = []

    @Option(name: .customLong("runtime-root"), help: "The runtime's --root.")
    var runtimeRoot: String?

    @Option(name: .customLong("runtime-timeout"), help: "Seconds any runtime invocation may take.")
    var runtimeTimeout: Double = 120

    @Option(name: .customLong("cgroup-manager"), help: "cgroupfs or systemd.")
    var cgroupManager = "cgroupfs"

    @Option(name: .customLong("runtime-supports-json"), help: "Runtime names that print JSON errors (repeatable; replaces the default list).")
    var supportsJSON: [String] = []

    @Option(name: .customLong("runtime-supports-nocgroups"), help: "Runtime names that run without cgroups (repeatable).")
    var supportsNoCgroups: [String] = []

    @Option(name: .customLong("runtime-supports-kvm"), help: "Runtime names that isolate with KVM (repeatable).")
    var supportsKVM: [String] = []

    @Option(name: .customLong("log-level"), help: "The shim's own log level: debug, info, warn, error.")
    var logLevel = "warn"

    @Flag(help: "Send the shim's own log to syslog instead of stderr.")
    var syslog = false

    @Flag(help: "Stay in the foreground: no fork, no new session.")
    var foreground = false

    @Option(name: .customLong("keep-fd"), help: "An inherited fd to hold open for the container's life (repeatable), e.g. a rootless network sync pipe.")
    var keepFDs: [Int32] = []

    func validate() throws {
        guard ShimLogHandler.parseLevel(logLevel) != nil else {
            throw ValidationError("invalid --log-level \(logLevel): use debug, info, warn or error")
        }
        guard runtimeTimeout > 0 else { throw ValidationError("--runtime-timeout must be positive") }
    }

    func run() throws {
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
        // here, before detaching, so the engine sees it on stderr and in the
        // exit status.
        do {
            try ShimConfig.validateContainerID(config.containerID)
            try RuntimeLocator.validateCgroupManager(config.cgroupManager)
            _ = try RuntimeLocator.resolve(config.runtime)
            try FileSystem.createDirectory(config.stateDir, mode: 0o700)
        } catch {
            throw ShimStartError("\(error)")
        }
        ShimLogHandler.bootstrap(level: ShimLogHandler.parseLevel(logLevel)!, sink: syslog ? .syslog : .stderr)

        if !foreground { detach() }
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
        let status = server.run()
        server.core.leaveShimCgroup()
        // The shim's last files; an emptied state dir (after Delete) goes too.
        try? FileSystem.removeFile(FileSystem.join(config.stateDir, "shim.pid"))
        if server.core.snapshot.status == .deleted { rmdir(config.stateDir) }
        Glibc.exit(status)
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

    private func inheritedKeepFDs() throws -> [Int32] {
        for fd in keepFDs {
            guard fd > 2, fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
                throw ShimStartError("--keep-fd \(fd): not an open inherited fd")
            }
        }
        return keepFDs
    }

    /// Fork once: the parent exits at once (the engine reaps it right away),
    /// the child leads a new session, outside the engine's process group.
    private func detach() {
        let pid = ocishim_fork()
        if pid < 0 { return }  // stay in the foreground rather than fail
        if pid > 0 { _exit(0) }
        _ = setsid()
    }
}

struct ShimStartError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = "ocishim: \(message)" }
}
