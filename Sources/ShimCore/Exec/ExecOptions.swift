import SystemPackage

/// What an exec session runs, as the engine asks for it (podman's
/// ExecOptions plus the session id).
public struct ExecOptions: Sendable {
    /// Unique among the shim's sessions; may be empty only for ExecSync.
    public var execID: String
    public var args: [String]
    /// Appended to the container's environment, "KEY=VALUE".
    public var env: [String] = []
    public var cwd = ""
    /// "name", "uid", "uid:gid", "name:group"; empty: the container's user.
    public var user = ""
    /// Supplementary groups (names or gids) to add.
    public var additionalGroups: [String] = []
    public var terminal = false
    /// Keep a stdin for attach clients.
    public var stdin = false
    public var capAdd: [String] = []
    /// The shim's fds 3..3+preserveFDs-1 go to the process (runc --preserve-fds).
    public var preserveFDs: UInt32 = 0
    /// Kill the session after this many seconds; 0: never.
    public var timeoutSeconds: UInt32 = 0
    public var processLabel = ""
    /// Extra options for `runc exec`, before the container id.
    public var runtimeArgs: [String] = []
    /// The process spec as the engine wrote it (conmon's
    /// --exec-process-spec): used as it is, so `args`, `env`, `cwd`, `user`,
    /// `additionalGroups`, `capAdd` and `processLabel` do not apply.
    public var processSpecPath: String?
    /// The session's directory (conmon's exec bundle, `-b`), which holds its
    /// attach socket and ctl FIFO. nil: `<state-dir>/exec/<id>`, the shim's
    /// own. A directory the engine gave is never removed, only the shim's
    /// files in it.
    public var directory: String?
    /// conmon's --full-attach: the attach socket is `<directory>/attach`,
    /// without a symlink in the socket dir.
    public var fullAttach = false
    /// An attach socket (and the control FIFOs) in the session's
    /// directory; false: output only to the log and ExecSync-style waiters
    /// (conmon's exec without a bundle).
    public var attachSocket = true
    /// The socket-dir link stays when the attach socket goes (conmon).
    public var attachLinkStays = false
    /// The control FIFOs; false when the engine's front end serves them.
    public var controlFIFOs = true
    /// A session whose runtime fails leaves its attach socket's file (and
    /// link) and control FIFO, their fds closed (as
    /// CreateOptions.keepEndpointsAfterFailure).
    public var keepEndpointsAfterFailure = false
    /// Attach socket clients are accepted only once the process exists (as
    /// CreateOptions.attachClientsWaitForProcess).
    public var attachClientsWaitForProcess = false
    /// Where the session's output is logged, as the container's would be
    /// (conmon logs an exec's output to its -l drivers, which CRI-O's
    /// ExecSync reads back). nil: not logged.
    public var log: LogOptions?
    /// The shim's fds handed to the runtime at the same numbers (as
    /// CreateOptions.runtimeFDs).
    public var runtimeFDs: [FileDescriptor] = []
    /// Added to the runtime's environment.
    public var runtimeEnvironment: [String] = []
    /// Empty, or the shim's fds to hand the process as its stdin, stdout
    /// and stderr as they are (as CreateOptions.providedStdio): nothing is
    /// read, logged or attachable. Not with a terminal.
    public var providedStdio: [FileDescriptor] = []

    /// Written with the exit code once the session's exit is recorded
    /// (conmon's exec mode: `<exit-dir>/<id>`, the persist dir's `exit`).
    public var exitFiles: [String] = []
    /// Run once the exit is recorded (conmon's exec mode runs podman's
    /// cleanup after an exec as after a container).
    public var exitCommand: ExitCommandSpec?
    /// The code recorded when `timeoutSeconds` killed the process; nil: the
    /// real one (137). conmon reports -1.
    public var timeoutExitCode: Int32?
    /// The exit files, events and waiters wait until the attach socket's
    /// clients have taken the rest of the output (conmon's exec sessions).
    public var announceAfterAttachClients = false
    /// The engine's own fds the process's stdio is copied to and from
    /// (containerd's FIFOs); the shim takes them over, whether the session
    /// is registered or not. `stdin` must be set when they include a stdin.
    public var relayedStdio: RelayedStdio?
    /// The owner of the process's ends of its stdio pipes; nil: the
    /// shim's (see StdioOwner).
    public var stdioOwner: StdioOwner?

    public init(execID: String, args: [String]) {
        self.execID = execID
        self.args = args
    }
}
