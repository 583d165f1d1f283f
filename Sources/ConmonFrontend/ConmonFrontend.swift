import Glibc
import ShimCore
import ShimSystem
import SystemPackage

/// `ocishim-conmon`: conmon's interface (command line, environment pipes,
/// files, messages) in front of the shim core, so that an engine that
/// drives conmon — podman (`podman --conmon /path/to/ocishim-conmon`),
/// CRI-O — drives ocishim. The order is conmon's main():
///
///     parse (glib), --help, --version, the checks of process_cli and
///     configure_log_drivers (MonitorPlan)          errors: stderr, exit 1
///     _OCI_STARTPIPE: wait for the engine's byte
///     fork: the parent writes -P and exits 0 (the engine's cmd.Wait())
///     the monitor: sd-notify relay, _OCI_SYNCPIPE, _OCI_ATTACHPIPE, stdio to
///     /dev/null, setsid, subreaper, seccomp notify (not on this build)
///     create, restore or exec (Monitor, Monitor+Exec), report on the pipes,
///     run until the exit; exit files, exit command, the exit status
public enum ConmonFrontend {
    /// conmon's version as podman checks it (>= 2.0.24, "conmon version X.Y.Z"
    /// on the first line).
    public static let conmonInterfaceVersion = "2.1.6"

    /// Where the monitor's own diagnostics go, at debug level, once it has
    /// detached: for debugging only. podman passes it on through
    /// containers.conf's conmon_env_vars.
    public static let diagnosticsVariable = "OCISHIM_CONMON_LOG_FILE"

    /// conmon's two lines; the second is its GIT_COMMIT, "unknown" for a
    /// build that knows none (Debian's conmon prints that too): there is no
    /// commit of conmon's to name here. Tools tell ocishim-conmon from
    /// conmon by the binary, not by this text.
    public static var versionText: String {
        "conmon version \(conmonInterfaceVersion)\ncommit: unknown\n"
    }

    public static func main(_ argv: [String]) -> Never {
        let options = initializeCLI(argv)
        let plan: MonitorPlan
        do {
            plan = try MonitorPlan(options, workingDirectory: currentDirectory())
        } catch {
            error.exit()
        }
        // An engine that went away must not kill us while we report to it;
        // SIGTERM before the container exists ends us as conmon's atexit
        // path does (status 1).
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM) { _ in _exit(1) }

        let start: Int32?
        do { start = try ParentPipes.fd(from: "_OCI_STARTPIPE") } catch { error.exit() }
        var pipes = ParentPipes(start: start)
        if let fd = start, fd > 0 {
            // The engine moves us into the container's cgroup, then lets us go.
            do { try pipes.waitForStart() } catch { error.exit() }
            if !options.execAttach {
                close(fd)
                pipes.start = nil
            }
        }
        // What the engine left open for the runtime (conmon leaves it open).
        let inherited = InheritedFDs.scan(excluding: ParentPipes.namedFDs())
        if !options.sync { Detach.forkMonitor(conmonPidFile: options.conmonPidFile) }

        // The monitor, with the engine's stderr until it detaches.
        let diagnosticsFile = ParentPipes.processVariable(diagnosticsVariable)
        let monitor: Monitor
        do throws(ConmonFailure) {
            monitor = try Monitor(plan: plan, stateDir: privateStateDir(plan), keepFDs: inherited.map(FileDescriptor.init(rawValue:)))
        } catch {
            error.exit()
        }
        do throws(ConmonFailure) {
            if let socket = options.sdnotifySocket, let bundle = plan.bundle {
                try monitor.relaySdNotify(bundle: bundle, hostSocket: socket)
            }
            pipes.sync = try ParentPipes.fd(from: "_OCI_SYNCPIPE")
            if options.execAttach {
                pipes.attach = try ParentPipes.fd(from: "_OCI_ATTACHPIPE")
                if pipes.attach == nil { throw ConmonFailure.pexit("--attach specified but _OCI_ATTACHPIPE was not", errno: 0) }
            }
        } catch {
            monitor.die(error)
        }
        pipes.key = options.apiVersion >= 1 ? "data" : options.exec ? "exit_code" : "pid"
        monitor.pipes = pipes
        // The container's stdio with -l passthrough, taken before stdio goes.
        let passthrough = plan.passthrough ? (Int32(0)...2).map { FileDescriptor(rawValue: fcntl($0, F_DUPFD_CLOEXEC, 3)) } : []
        Detach.becomeMonitor(disconnectStdio: true, diagnosticsFile: diagnosticsFile)
        if diagnosticsFile != nil { ConmonLog.level = max(ConmonLog.level, .debug) }
        if options.seccompNotifySocket != nil {
            // Built without seccomp notify support, as Debian's conmon is.
            monitor.die(.pexit("seccomp support not present", errno: 0))
        }
        exit(monitor.run(providedStdio: passthrough))
    }

    /// conmon's initialize_cli: glib's parse (its errors on stdout), the
    /// help and version texts, and the one check made before any other.
    private static func initializeCLI(_ argv: [String]) -> ConmonOptions {
        let program = ConmonCommandLine.programName(argv.first)
        let options: ConmonOptions
        do {
            switch try ConmonCommandLine.parse(Array(argv.dropFirst()), programName: program) {
            case .help(let text):
                write(1, text)
                exit(0)
            case .options(let parsed):
                options = parsed
            }
        } catch {
            write(1, "conmon: option parsing failed: \(error.message)\n")
            exit(1)
        }
        if options.version {
            write(1, versionText)
            exit(0)
        }
        guard let cid = options.containerID else {
            write(2, "conmon: Container ID not provided. Use --cid\n")
            exit(1)
        }
        ConmonCoreLogHandler.bootstrap()
        _ = ConmonLog.configure(level: options.logLevel, cid: cid, syslog: options.syslog, tag: options.logTag)
        return options
    }

    /// The monitor's own files (the core's state, runtime logs, the console
    /// socket): in the bundle, else in the working directory; removed when
    /// the monitor exits.
    private static func privateStateDir(_ plan: MonitorPlan) -> String {
        FileSystem.join(plan.bundle ?? plan.workingDirectory, ".ocishim-conmon-\(getpid())")
    }

    static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    private static func currentDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { ConmonLog.nexit("Failed to get working directory") }
        defer { free(cwd) }
        return String(cString: cwd)
    }
}
