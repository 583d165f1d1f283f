import ShimSystem
import SystemPackage

/// What the core asks of an OCI runtime, in the core's terms: which
/// container, which files, which fds. `RuntimeCommandLine` turns each request
/// into runc's (or crun's) command line; tests drive the core with an
/// in-process runtime instead (allowed for fault injection and for the state
/// machine; never in place of runc where runc can run).
///
/// Every call completes on the loop, once; a failure carries the runtime's
/// own message and a kind the core acts on (`.alreadyExists` for an id that
/// is taken, `.noSuchContainer` for one the runtime does not know).
protocol OCIRuntime: AnyObject {
    /// "runc", "crun": for messages.
    var name: String { get }
    /// `create` (or `restore --detach`): on success the container's init
    /// exists, parked before its process until `start` (restored: running),
    /// and its pid is in `request.pidFile`.
    func create(_ request: RuntimeCreate, _ done: @escaping (Result<Void, CoreError>) -> Void)
    func start(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void)
    func kill(_ id: String, signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void)
    func pause(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void)
    func resume(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void)
    /// With `force`, a live container's processes are killed first.
    func delete(_ id: String, force: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void)
    /// OCI LinuxResources as JSON.
    func update(_ id: String, resources: [UInt8], _ done: @escaping (Result<Void, CoreError>) -> Void)
    /// The runtime's view; nil when it does not know the id.
    func state(_ id: String, _ done: @escaping (Result<RuntimeState?, CoreError>) -> Void)
    /// `exec --detach`: on success the process runs and its pid is in
    /// `request.pidFile`.
    func exec(_ request: RuntimeExec, _ done: @escaping (Result<Void, CoreError>) -> Void)
    func checkpoint(_ request: RuntimeCheckpoint, _ done: @escaping (Result<Void, CoreError>) -> Void)
    /// The pids of the container's processes (`ps --format json`).
    func processIDs(_ id: String, _ done: @escaping (Result<[Int32], CoreError>) -> Void)
}

/// How the runtime's process reaches the container's stdio.
struct RuntimeStdio {
    /// The fds the runtime gets as its 0, 1, 2 and passes on to the
    /// container's process (pipes; runc's pass-through mode).
    var fds: [(child: FileDescriptor, parent: FileDescriptor)] = []
    /// A terminal: the runtime sends the pty master to this socket.
    var consoleSocket: String?

    static let none = RuntimeStdio()
}

struct RuntimeCreate {
    var id: String
    var bundle: String
    var pidFile: String
    var stdio = RuntimeStdio.none
    /// `restore --detach` from a checkpoint instead of `create`.
    var restore: RestoreOptions?
    var noPivot = false
    var noNewKeyring = false
    /// The engine's own options for the subcommand.
    var extraArgs: [String] = []
    /// Socket activation: the shim's fds 3..<3+n go to the runtime at the
    /// same numbers, with LISTEN_FDS=n.
    var listenFDs = 0
    /// The shim's fds the runtime gets at the same numbers (the engine's,
    /// for the runtime to hand on: `--preserve-fds`).
    var passFDs: [FileDescriptor] = []
    var environment: [String] = []
    /// Process attributes of the runtime itself (mount namespace, SELinux
    /// exec label, LISTEN_PID).
    var configure: ((inout SpawnOptions) -> Void)?

    init(id: String, bundle: String, pidFile: String) {
        self.id = id
        self.bundle = bundle
        self.pidFile = pidFile
    }
}

struct RuntimeExec {
    var id: String
    /// The OCI process spec (JSON) of the new process.
    var processFile: String
    var pidFile: String
    var stdio = RuntimeStdio.none
    /// The shim's fds 3..<3+n are the process's 3..<3+n.
    var preserveFDs = 0
    /// Capability names added to the process (`--cap`).
    var capabilities: [String] = []
    var extraArgs: [String] = []
    /// The shim's fds the runtime gets at the same numbers (as RuntimeCreate's).
    var passFDs: [FileDescriptor] = []
    var environment: [String] = []

    init(id: String, processFile: String, pidFile: String) {
        self.id = id
        self.processFile = processFile
        self.pidFile = pidFile
    }
}

struct RuntimeCheckpoint {
    var id: String
    var imagePath: String
    var workPath: String
    var leaveRunning = false
    var tcpEstablished = false
    var fileLocks = false
    var extraArgs: [String] = []

    init(id: String, imagePath: String, workPath: String) {
        self.id = id
        self.imagePath = imagePath
        self.workPath = workPath
    }
}

/// `runc state`: what the runtime knows of a container.
struct RuntimeState: Equatable {
    var status: String
    var pid: Int32
    var bundle: String
}

/// Builds the runtime for a container's settings (fixed at Create). The
/// shim's default builds `RuntimeCommandLine`.
typealias RuntimeFactory = (RuntimeSettings) -> OCIRuntime
