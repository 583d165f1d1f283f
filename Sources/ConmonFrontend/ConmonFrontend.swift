import Glibc
import ShimCore
import ShimSystem

/// `ocishim-conmon`: conmon's interface (command line, environment pipes,
/// files) in front of the shim core, so an engine that drives conmon, such
/// as podman (`podman --conmon /path/to/ocishim-conmon`), drives ocishim.
///
///     parse and check the command line      (errors: stderr + sync pipe, exit 1)
///     wait on the start pipe                (the engine places us in a cgroup)
///     fork: the parent writes -P and exits  (the engine's cmd.Wait() returns)
///     the monitor: setsid, subreaper, stdio to /dev/null
///     core.create -> {"data": pid} or {"data": -1, "message": ...}
///       (-e: adopt the container, attach-pipe handshake, runc exec, the pid,
///        later the exit code; Monitor+Exec.swift)
///     loop until the exit is recorded, the exit command has run and the
///     attach clients have their output
public enum ConmonFrontend {
    /// conmon's version as podman checks it (>= 2.0.24, "conmon version X.Y.Z"
    /// on the first line), and what this is on the second.
    public static let conmonInterfaceVersion = "2.1.6"

    /// Where the monitor's own diagnostics go, at debug level, once it has
    /// detached (else nowhere, or syslog with --syslog): for debugging only.
    /// podman passes it on through containers.conf's conmon_env_vars.
    public static let diagnosticsVariable = "OCISHIM_CONMON_LOG_FILE"

    public static var versionText: String {
        "conmon version \(conmonInterfaceVersion)\ncommit: ocishim-conmon \(ShimVersion.current)\n"
    }

    public static func main(_ argv: [String]) -> Never {
        // An engine that went away must not kill us while we report to it.
        signal(SIGPIPE, SIG_IGN)
        // Before anything opens an fd: what the engine left open for us.
        let pipes: ParentPipes
        do {
            pipes = try ParentPipes.fromEnvironment()
        } catch {
            ConmonDiagnostics.printError(error.message)
            exit(1)
        }
        let inherited = InheritedFDs.scan(excluding: pipes.fds)

        let options: ConmonOptions
        do {
            options = try ConmonCommandLine.parse(Array(argv.dropFirst()))
        } catch {
            fail("option parsing failed: \(error.message)", pipes)
        }
        if options.version {
            _ = versionText.withCString { write(1, $0, strlen($0)) }
            exit(0)
        }
        let plan: MonitorPlan
        do throws(ConmonError) {
            plan = try MonitorPlan(options, workingDirectory: currentDirectory())
            try plan.preflight()
            if let fds = ParentPipes.processVariable("LISTEN_FDS") {
                throw ConmonError("socket activation (LISTEN_FDS=\(fds)) is not supported by ocishim-conmon")
            }
        } catch {
            fail(error.message, pipes)
        }
        var reporting = pipes
        reporting.key = options.apiVersion >= 1 ? "data" : "pid"
        let diagnosticsFile = ParentPipes.processVariable(diagnosticsVariable)
        // The diagnostics file is for debugging: it gets everything.
        ShimLogHandler.bootstrap(level: diagnosticsFile == nil ? plan.logLevel : .debug,
                                 sink: options.syslog && diagnosticsFile == nil ? .syslog : .stderr)

        // The engine moves us into the container's cgroup, then lets us go.
        do { try reporting.waitForStart() } catch { fail(error.message, reporting) }

        // The container's stdio, taken before stdio goes to /dev/null.
        let passthrough = plan.passthrough ? (Int32(0)...2).map { fcntl($0, F_DUPFD_CLOEXEC, 3) } : []
        if options.sync {
            writeOwnPidFile(options.conmonPidFile, reporting)
        } else {
            Detach.forkMonitor(conmonPidFile: options.conmonPidFile, pipes: reporting)
        }
        Detach.becomeMonitor(disconnectStdio: true, diagnosticsFile: diagnosticsFile)

        let stateDir = FileSystem.join(plan.bundle, ".ocishim-conmon-\(getpid())")
        var status: Int32 = 1
        var created = false
        do {
            let monitor = try Monitor(plan: plan, pipes: reporting, stateDir: stateDir, keepFDs: inherited)
            status = monitor.run(providedStdio: passthrough)
            created = monitor.created
        } catch {
            reporting.report(-1, message: error.message)
            try? FileSystem.removeTree(stateDir)
        }
        // A monitor that never had a container leaves no pid file behind.
        if !created, let pidFile = options.conmonPidFile { try? FileSystem.removeFile(pidFile) }
        exit(status)
    }

    private static func fail(_ message: String, _ pipes: ParentPipes) -> Never {
        Detach.fail(message, pipes)
    }

    /// --sync: the process the engine started is the monitor.
    private static func writeOwnPidFile(_ path: String?, _ pipes: ParentPipes) {
        guard let path else { return }
        do {
            try FileSystem.writeAtomically(path, "\(getpid())")
        } catch {
            fail("Failed to write conmon pidfile: \(error)", pipes)
        }
    }

    private static func currentDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { return "/" }
        defer { free(cwd) }
        return String(cString: cwd)
    }
}
