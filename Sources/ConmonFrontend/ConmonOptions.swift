/// conmon's command line (src/cli.c of conmon 2.1.6, plus the options
/// conmon 2.2 added), parsed but not yet checked: `ConmonSetup` does that,
/// in conmon's order.
public struct ConmonOptions: Sendable, Equatable {
    // identity and runtime
    /// `--api-version`: a flag in conmon (an int set to 1); podman writes
    /// `--api-version 1`, and glib leaves the "1" to the program.
    public var apiVersion = 0
    /// -c --cid
    public var containerID: String?
    /// -u --cuuid: the container's UUID, or the exec session id.
    public var containerUUID: String?
    /// -n --name
    public var name: String?
    /// -r --runtime: the runtime's path.
    public var runtimePath: String?
    /// -b --bundle
    public var bundle: String?
    /// -p --container-pidfile (--pidfile, deprecated)
    public var containerPidFile: String?
    /// -P --conmon-pidfile
    public var conmonPidFile: String?

    // logging
    /// -l --log-path, repeatable: `k8s-file:PATH`, `PATH`, `:PATH`,
    /// `journald[:x]`, `none`/`off`/`null`, `passthrough`.
    public var logDrivers: [String] = []
    /// --log-size-max (-1: unlimited)
    public var logSizeMax: Int64 = -1
    /// --log-global-size-max: all output ever written to the k8s-file log
    /// (-1: unlimited); what comes after is dropped.
    public var logGlobalSizeMax: Int64 = -1
    /// --log-tag
    public var logTag: String?
    /// --log-level: the monitor's own diagnostics.
    public var logLevel: String?
    /// --syslog: the monitor's diagnostics also to syslog.
    public var syslog = false
    /// --no-sync-log: no fsync of the log when the container has exited.
    public var noSyncLog = false
    /// conmon 2.2: --log-label LABEL=VALUE, repeatable (journald fields).
    public var logLabels: [String] = []
    /// conmon 2.2: --log-rotate: at --log-size-max the file is rotated
    /// (path.1, ...) instead of started over.
    public var logRotate = false
    /// conmon 2.2: --log-max-files: rotated files kept (default 1).
    public var logMaxFiles: Int64 = 1
    /// conmon 2.2: --log-allowlist-dir, repeatable: where a rotated log may be.
    public var logAllowlistDirs: [String] = []
    /// conmon 2.2: --no-container-partial-message: journald records of
    /// partial lines without CONTAINER_PARTIAL_MESSAGE=true.
    public var noContainerPartialMessage = false

    // files and sockets
    public var exitDir: String?
    /// --persist-dir (-0)
    public var persistDir: String?
    /// --socket-dir-path: where the `<cuuid>` symlink to the bundle goes.
    public var socketDirPath = ConmonOptions.defaultSocketDirPath
    /// --full-attach: the attach socket is `<bundle>/attach`, no symlink.
    public var fullAttach = false
    /// --sdnotify-socket: the host's sd-notify socket; READY=1 and
    /// WATCHDOG=1 from `<bundle>/notify/notify.sock` are passed on to it.
    public var sdnotifySocket: String?
    /// --seccomp-notify-socket, --seccomp-notify-plugins (or
    /// CONMON_SECCOMP_NOTIFY_PLUGINS).
    public var seccompNotifySocket: String?
    public var seccompNotifyPlugins: String?

    // exit handling
    public var exitCommand: String?
    /// --exit-command-arg, repeatable.
    public var exitCommandArgs: [String] = []
    /// --exit-delay, seconds.
    public var exitDelay: Int64 = 0

    // stdio
    /// -t --terminal
    public var terminal = false
    /// -i --stdin
    public var stdin = false
    public var leaveStdinOpen = false

    // runtime options
    public var noPivot = false
    public var noNewKeyring = false
    /// --runtime-arg, repeatable: global runtime options, before the subcommand.
    public var runtimeArgs: [String] = []
    /// --runtime-opt (--restore-arg, deprecated), repeatable: options of the
    /// create/restore/exec subcommand.
    public var runtimeOpts: [String] = []
    /// -s --systemd-cgroup
    public var systemdCgroup = false
    /// --replace-listen-pid: LISTEN_PID becomes the runtime's pid whatever it was.
    public var replaceListenPid = false

    // exec
    /// -e --exec
    public var exec = false
    /// --exec-attach
    public var execAttach = false
    /// --exec-process-spec
    public var execProcessSpec: String?
    /// -T --timeout, seconds (0: none).
    public var timeout: Int64 = 0

    // restore, process model
    /// --restore: the checkpoint image path.
    public var restorePath: String?
    /// --sync: no double fork; the process started is the monitor.
    public var sync = false
    /// --version
    public var version = false

    /// conmon's DEFAULT_SOCKET_PATH.
    public static let defaultSocketDirPath = "/var/run/crio"

    public init() {}
}

/// The option table in conmon's order (its --help lists them so), with
/// conmon's descriptions, and where each value goes.
enum ConmonOptionTable {
    typealias Apply = @Sendable (inout ConmonOptions, GOptionValue) -> Void

    static let rows: [(GOptionEntry, Apply)] = [
        flag("api-version", nil, "Conmon API version to use") { $0.apiVersion = 1 },
        string("bundle", "b", "Location of the OCI Bundle path") { $0.bundle = $1 },
        string("cid", "c", "Identification of Container") { $0.containerID = $1 },
        string("conmon-pidfile", "P", "PID file for the conmon process") { $0.conmonPidFile = $1 },
        string("container-pidfile", "p", "PID file for the initial pid inside of container") { $0.containerPidFile = $1 },
        string("cuuid", "u", "Container UUID") { $0.containerUUID = $1 },
        flag("exec", "e", "Exec a command into a running container") { $0.exec = true },
        flag("exec-attach", nil, "Attach to an exec session") { $0.execAttach = true },
        string("exec-process-spec", nil, "Path to the process spec for execution") { $0.execProcessSpec = $1 },
        string("exit-command", nil, "Path to the program to execute when the container terminates its execution") {
            $0.exitCommand = $1
        },
        strings("exit-command-arg", "Additional arg to pass to the exit command.  Can be specified multiple times") {
            $0.exitCommandArgs.append($1)
        },
        int("exit-delay", .int, "Delay before invoking the exit command (in seconds)") { $0.exitDelay = $1 },
        string("exit-dir", nil, "Path to the directory where exit files are written") { $0.exitDir = $1 },
        flag("leave-stdin-open", nil, "Leave stdin open when attached client disconnects") { $0.leaveStdinOpen = true },
        string("log-level", nil, "Print debug logs based on log level") { $0.logLevel = $1 },
        strings("log-path", "l", "Log file path") { $0.logDrivers.append($1) },
        int("log-size-max", .int64, "Maximum size of log file") { $0.logSizeMax = $1 },
        int("log-global-size-max", .int64, "Maximum size of all log files") { $0.logGlobalSizeMax = $1 },
        string("log-tag", nil, "Additional tag to use for logging") { $0.logTag = $1 },
        string("name", "n", "Container name") { $0.name = $1 },
        flag("no-new-keyring", nil, "Do not create a new session keyring for the container") { $0.noNewKeyring = true },
        flag("no-pivot", nil, "Do not use pivot_root") { $0.noPivot = true },
        flag("no-sync-log", nil, "Do not manually call sync on logs after container shutdown") { $0.noSyncLog = true },
        string("persist-dir", "0", "Persistent directory for a container that can be used for storing container data") {
            $0.persistDir = $1
        },
        string("pidfile", nil, "PID file (DEPRECATED)", hidden: true) { $0.containerPidFile = $1 },
        flag("replace-listen-pid", nil, "Replace listen pid if set for oci-runtime pid") { $0.replaceListenPid = true },
        string("restore", nil, "Restore a container from a checkpoint") { $0.restorePath = $1 },
        strings("restore-arg", "Additional arg to pass to the restore command. Can be specified multiple times. (DEPRECATED)",
                hidden: true) { $0.runtimeOpts.append($1) },
        string("runtime", "r", "Path to store runtime data for the container") { $0.runtimePath = $1 },
        strings("runtime-arg", "Additional arg to pass to the runtime. Can be specified multiple times") {
            $0.runtimeArgs.append($1)
        },
        strings("runtime-opt", "Additional opts to pass to the restore or exec command. Can be specified multiple times") {
            $0.runtimeOpts.append($1)
        },
        string("sdnotify-socket", nil, "Path to the host's sd-notify socket to relay messages to") { $0.sdnotifySocket = $1 },
        string("socket-dir-path", nil, "Location of container attach sockets") { $0.socketDirPath = $1 },
        flag("stdin", "i", "Open up a pipe to pass stdin to the container") { $0.stdin = true },
        flag("sync", nil, "Keep the main conmon process as its child by only forking once") { $0.sync = true },
        flag("syslog", nil, "Log to syslog (use with cgroupfs cgroup manager)") { $0.syslog = true },
        flag("systemd-cgroup", "s", "Enable systemd cgroup manager, rather then use the cgroupfs directly") {
            $0.systemdCgroup = true
        },
        flag("terminal", "t", "Allocate a pseudo-TTY. The default is false") { $0.terminal = true },
        int("timeout", .int, "Kill container after specified timeout in seconds.", short: "T") { $0.timeout = $1 },
        flag("version", nil, "Print the version and exit") { $0.version = true },
        flag("full-attach", nil,
             "Don't truncate the path to the attach socket. This option causes conmon to ignore --socket-dir-path") {
            $0.fullAttach = true
        },
        string("seccomp-notify-socket", nil, "Path to the socket where the seccomp notification fd is received") {
            $0.seccompNotifySocket = $1
        },
        string("seccomp-notify-plugins", nil, "Plugins to use for managing the seccomp notifications") {
            $0.seccompNotifyPlugins = $1
        },
        // conmon 2.2's
        strings("log-label", "Additional label to include in log records. The accepted format is LABEL=VALUE. "
                + "Can be specified multiple times") { $0.logLabels.append($1) },
        flag("log-rotate", nil, "Enable log rotation instead of truncation when log-size-max is reached") {
            $0.logRotate = true
        },
        int("log-max-files", .int, "Number of backup log files to keep (default: 1)") { $0.logMaxFiles = $1 },
        strings("log-allowlist-dir", "Allowed log directory (can be specified multiple times)") {
            $0.logAllowlistDirs.append($1)
        },
        strings("log-allowlist-dirs", "", hidden: true) { $0.logAllowlistDirs.append($1) },
        flag("no-container-partial-message", nil, "Do not set CONTAINER_PARTIAL_MESSAGE on partial journald records") {
            $0.noContainerPartialMessage = true
        },
    ]

    static let parser = GOptionParser(entries: rows.map(\.0), parameterString: "- conmon utility")
    static let apply: [String: Apply] = Dictionary(uniqueKeysWithValues: rows.map { ($0.0.long, $0.1) })

    private static func flag(_ long: String, _ short: Character?, _ description: String,
                             _ set: @escaping @Sendable (inout ConmonOptions) -> Void) -> (GOptionEntry, Apply) {
        (GOptionEntry(long: long, short: short, kind: .flag, description: description), { o, _ in set(&o) })
    }

    private static func string(_ long: String, _ short: Character?, _ description: String, hidden: Bool = false,
                               _ set: @escaping @Sendable (inout ConmonOptions, String) -> Void) -> (GOptionEntry, Apply) {
        (GOptionEntry(long: long, short: short, kind: .string, description: description, hidden: hidden),
         { o, v in if case .string(let s) = v { set(&o, s) } })
    }

    private static func strings(_ long: String, _ short: Character? = nil, _ description: String, hidden: Bool = false,
                                _ add: @escaping @Sendable (inout ConmonOptions, String) -> Void) -> (GOptionEntry, Apply) {
        (GOptionEntry(long: long, short: short, kind: .stringArray, description: description, hidden: hidden),
         { o, v in if case .string(let s) = v { add(&o, s) } })
    }

    private static func strings(_ long: String, _ description: String, hidden: Bool = false,
                                _ add: @escaping @Sendable (inout ConmonOptions, String) -> Void) -> (GOptionEntry, Apply) {
        strings(long, nil, description, hidden: hidden, add)
    }

    private static func int(_ long: String, _ kind: GOptionEntry.Kind, _ description: String, short: Character? = nil,
                            _ set: @escaping @Sendable (inout ConmonOptions, Int64) -> Void) -> (GOptionEntry, Apply) {
        (GOptionEntry(long: long, short: short, kind: kind, description: description),
         { o, v in if case .int(let n) = v { set(&o, n) } })
    }
}
