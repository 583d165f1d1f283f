/// conmon's command line as podman passes it (conmon 2.1's src/cli.c),
/// parsed but not yet checked for consistency: `MonitorPlan` does that.
public struct ConmonOptions: Sendable, Equatable {
    // identity and runtime
    /// `--api-version [N]`: a flag in conmon (podman writes `--api-version 1`).
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
    /// -l --log-path, repeatable: `k8s-file:PATH`, `PATH`, `journald`, `none`, `passthrough`.
    public var logDrivers: [String] = []
    /// --log-size-max (-1: unlimited)
    public var logSizeMax: Int64 = -1
    /// --log-tag
    public var logTag: String?
    /// --log-level: the monitor's own diagnostics.
    public var logLevel: String?
    /// --syslog: the monitor's diagnostics to syslog.
    public var syslog = false

    // files and sockets
    public var exitDir: String?
    /// --persist-dir (-0)
    public var persistDir: String?
    /// --socket-dir-path: where the `<cuuid>` symlink to the bundle goes.
    public var socketDirPath = ConmonOptions.defaultSocketDirPath
    /// --full-attach: the attach socket is `<bundle>/attach`, no symlink.
    public var fullAttach = false

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
