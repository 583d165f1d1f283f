import Glibc
import ShimSystem
import SystemPackage

/// How the runtime is invoked for one container: which binary, its global
/// options, environment and deadline. Fixed at Create.
public struct RuntimeSettings: Sendable {
    public var runtime: ResolvedRuntime
    /// --root
    public var root: String?
    /// --systemd-cgroup (cgroup manager "systemd" and cgroups enabled).
    public var systemdCgroup = false
    /// The engine's extra global options, before the subcommand.
    public var globalArgs: [String] = []
    /// --log <file> --log-format=json, so failures carry the runtime's text.
    public var jsonErrors = true
    public var environment: [String]
    public var timeoutSeconds: Double

    public init(runtime: ResolvedRuntime, environment: [String], timeoutSeconds: Double) {
        self.runtime = runtime
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
    }
}

/// One invocation: the subcommand with its options and the container id.
struct RuntimeCall {
    /// For messages and the log file name: "create", "kill", ...
    var operation: String
    var arguments: [String]
    var stdin: [UInt8]?
    /// false when the runtime's stdio are the container's (runc create).
    var captureOutput = true
    var extraFds: [(child: FileDescriptor, parent: FileDescriptor)] = []
    var configure: ((inout SpawnOptions) -> Void)?
    var extraEnvironment: [String] = []
    /// Overrides the settings' deadline (Stop's kill, exec timeouts).
    var timeoutSeconds: Double?

    init(_ operation: String, _ arguments: [String]) {
        self.operation = operation
        self.arguments = arguments
    }
}

/// The OCI runtime through its command line (runc, crun): each request
/// becomes one invocation, run without blocking the loop; a failure carries
/// the runtime's own message (from its `--log-format=json` log, else its
/// stderr) and its kind (RuntimeFailure).
final class RuntimeCommandLine: OCIRuntime {
    let settings: RuntimeSettings
    private let runner: CommandRunner
    /// Where each invocation's JSON log goes.
    private let logs: RuntimeLogFiles

    init(settings: RuntimeSettings, runner: CommandRunner, logs: RuntimeLogFiles) {
        self.settings = settings
        self.runner = runner
        self.logs = logs
    }

    var name: String { settings.runtime.name }

    // --- the requests ------------------------------------------------------------

    func create(_ request: RuntimeCreate, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        var call: RuntimeCall
        if let restore = request.restore {
            var args = ["restore", "--detach", "--bundle", request.bundle, "--pid-file", request.pidFile,
                        "--image-path", restore.imagePath, "--work-path", restore.workPath ?? request.bundle]
            if restore.tcpEstablished { args.append("--tcp-established") }
            if restore.fileLocks { args.append("--file-locks") }
            args += common(request) + restore.runtimeArgs + request.extraArgs + [request.id]
            call = RuntimeCall("restore", args)
        } else {
            call = RuntimeCall("create", ["create", "--bundle", request.bundle, "--pid-file", request.pidFile]
                               + common(request) + request.extraArgs + [request.id])
        }
        attach(request.stdio, to: &call)
        if request.listenFDs > 0 {
            // The engine's fds 3.. go to the runtime at the same numbers; it
            // hands them to the container.
            call.extraFds += (0..<request.listenFDs).map { Self.same(Int32(3 + $0)) }
            call.extraEnvironment.append("LISTEN_FDS=\(request.listenFDs)")
        }
        call.extraFds += request.passFDs.filter { fd in !call.extraFds.contains { $0.child == fd } }.map { ($0, $0) }
        call.extraEnvironment += request.environment
        call.configure = request.configure
        run(call, completion: ignoringOutput(done))
    }

    /// The options create and restore share, after the subcommand's own.
    private func common(_ request: RuntimeCreate) -> [String] {
        var args: [String] = []
        if let socket = request.stdio.consoleSocket { args += ["--console-socket", socket] }
        if request.noPivot { args.append("--no-pivot") }
        if request.noNewKeyring { args.append("--no-new-keyring") }
        return args
    }

    /// Pipes: the runtime's own stdio are the container's (runc's
    /// pass-through mode), so its output is not captured; a terminal: the
    /// runtime's output is captured (its warnings) and the pty comes through
    /// the console socket.
    private func attach(_ stdio: RuntimeStdio, to call: inout RuntimeCall) {
        if stdio.consoleSocket == nil && !stdio.fds.isEmpty {
            call.captureOutput = false
            call.extraFds = stdio.fds
        }
    }

    /// The shim's fd `n` as the runtime's fd `n`.
    private static func same(_ n: Int32) -> (child: FileDescriptor, parent: FileDescriptor) {
        (FileDescriptor(rawValue: n), FileDescriptor(rawValue: n))
    }

    func start(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        run(RuntimeCall("start", ["start", id]), completion: ignoringOutput(done))
    }

    func kill(_ id: String, signal: Int32, all: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        run(RuntimeCall("kill", ["kill"] + (all ? ["--all"] : []) + [id, String(signal)]), completion: ignoringOutput(done))
    }

    func pause(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        run(RuntimeCall("pause", ["pause", id]), completion: ignoringOutput(done))
    }

    func resume(_ id: String, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        run(RuntimeCall("resume", ["resume", id]), completion: ignoringOutput(done))
    }

    func delete(_ id: String, force: Bool, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        run(RuntimeCall("delete", ["delete"] + (force ? ["--force"] : []) + [id]), completion: ignoringOutput(done))
    }

    /// `runc update --resources - ID` with the resources on stdin.
    func update(_ id: String, resources: [UInt8], _ done: @escaping (Result<Void, CoreError>) -> Void) {
        var call = RuntimeCall("update", ["update", "--resources", "-", id])
        call.stdin = resources
        run(call, completion: ignoringOutput(done))
    }

    func state(_ id: String, _ done: @escaping (Result<RuntimeState?, CoreError>) -> Void) {
        run(RuntimeCall("state", ["state", id])) { result in
            switch result {
            case .success(let output):
                guard let json = try? JSONValue(parsing: output.stdout), let status = json["status"]?.stringValue else {
                    return done(.failure(.internal("cannot decode `state` output of the runtime: \(output.stdoutText)")))
                }
                done(.success(RuntimeState(status: status, pid: Int32(clamping: json["pid"]?.intValue ?? 0),
                                           bundle: json["bundle"]?.stringValue ?? "")))
            case .failure(let error) where error.kind == .noSuchContainer:
                done(.success(nil))
            case .failure(let error):
                done(.failure(error))
            }
        }
    }

    /// `runc exec --detach --pid-file P --process F [--console-socket S]
    /// [--preserve-fds N] [--cap C]... [engine's args] ID`
    func exec(_ request: RuntimeExec, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        var args = ["exec", "--detach", "--pid-file", request.pidFile, "--process", request.processFile]
        if let socket = request.stdio.consoleSocket { args += ["--console-socket", socket] }
        if request.preserveFDs > 0 { args += ["--preserve-fds", String(request.preserveFDs)] }
        for cap in request.capabilities { args += ["--cap", cap] }
        args += request.extraArgs
        args.append(request.id)
        var call = RuntimeCall("exec", args)
        attach(request.stdio, to: &call)
        call.extraFds += (0..<Int32(clamping: request.preserveFDs)).map { Self.same(3 + $0) }
        call.extraFds += request.passFDs.filter { fd in !call.extraFds.contains { $0.child == fd } }.map { ($0, $0) }
        call.extraEnvironment += request.environment
        run(call, completion: ignoringOutput(done))
    }

    func checkpoint(_ request: RuntimeCheckpoint, _ done: @escaping (Result<Void, CoreError>) -> Void) {
        var args = ["checkpoint", "--image-path", request.imagePath, "--work-path", request.workPath]
        if request.leaveRunning { args.append("--leave-running") }
        if request.tcpEstablished { args.append("--tcp-established") }
        if request.fileLocks { args.append("--file-locks") }
        args += request.extraArgs
        args.append(request.id)
        run(RuntimeCall("checkpoint", args), completion: ignoringOutput(done))
    }

    /// `runc ps --format json ID`: a JSON array of pids.
    func processIDs(_ id: String, _ done: @escaping (Result<[Int32], CoreError>) -> Void) {
        run(RuntimeCall("ps", ["ps", "--format", "json", id])) { result in
            switch result {
            case .success(let output):
                guard let json = try? JSONValue(parsing: output.stdout), let items = json.arrayValue,
                      case let pids = items.compactMap({ $0.intValue.map { Int32(clamping: $0) } }), pids.count == items.count else {
                    return done(.failure(.internal("cannot decode `ps` output of the runtime: \(output.stdoutText)")))
                }
                done(.success(pids))
            case .failure(let error):
                done(.failure(error))
            }
        }
    }

    private func ignoringOutput(_ done: @escaping (Result<Void, CoreError>) -> Void) -> (Result<CommandResult, CoreError>) -> Void {
        { result in done(result.map { _ in () }) }
    }

    // --- one invocation ----------------------------------------------------------

    /// Starts `call`; `completion` gets the result of a zero exit, or the
    /// runtime's error.
    private func run(_ call: RuntimeCall, completion: @escaping (Result<CommandResult, CoreError>) -> Void) {
        let name = settings.runtime.name
        let logFile: (slot: Int, path: String)?
        do throws(SystemError) {
            logFile = settings.jsonErrors ? try logs.take() : nil
        } catch {
            return completion(.failure(CoreError(.internal, "cannot prepare the log of \(name) \(call.operation): \(error)")))
        }
        var argv = [settings.runtime.path]
        if let root = settings.root { argv += ["--root", root] }
        if let logFile { argv += ["--log", logFile.path, "--log-format", "json"] }
        if settings.systemdCgroup { argv.append("--systemd-cgroup") }
        argv += settings.globalArgs
        argv += call.arguments

        let timeout = call.timeoutSeconds ?? settings.timeoutSeconds
        var command = CommandRunner.Command(path: settings.runtime.path, arguments: argv,
                                            environment: call.extraEnvironment.isEmpty ? settings.environment
                                                : RuntimeEnvironment(variables: settings.environment).adding(call.extraEnvironment),
                                            timeoutNanos: Clock.nanos(fromSeconds: timeout))
        command.stdin = call.stdin
        command.captureOutput = call.captureOutput
        command.extraFds = call.extraFds
        command.configure = call.configure
        do {
            try runner.run(command) { [logs] result in
                let log = logFile.flatMap { try? FileSystem.readIfExists($0.path) }
                if let logFile { logs.release(logFile.slot) }
                if result.succeeded {
                    completion(.success(result))
                } else {
                    completion(.failure(RuntimeFailure.error(
                        runtime: name, operation: call.operation, jsonLog: log, stderr: result.stderr,
                        termination: result.termination, timedOut: result.timedOut, timeoutSeconds: timeout)))
                }
            }
        } catch {
            if let logFile { logs.release(logFile.slot) }
            var failure = CoreError(.runtimeFailed, "cannot run \(name) \(call.operation): \(error)")
            failure.runtimeStatus = 127
            completion(.failure(failure))
        }
    }
}
