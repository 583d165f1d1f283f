import Glibc
import ShimSystem

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
    var extraFds: [(child: Int32, parent: Int32)] = []
    var configure: ((inout SpawnOptions) -> Void)?
    var extraEnvironment: [String] = []
    /// Overrides the settings' deadline (Stop's kill, exec timeouts).
    var timeoutSeconds: Double?

    init(_ operation: String, _ arguments: [String]) {
        self.operation = operation
        self.arguments = arguments
    }
}

/// Runs the OCI runtime's command line (runc, crun) without blocking the loop,
/// and turns its failures into errors carrying the runtime's own message.
final class RuntimeDriver {
    let settings: RuntimeSettings
    private let runner: CommandRunner
    /// Per-invocation JSON logs live here and are removed once read.
    private let logDir: String
    private var invocation = 0

    init(settings: RuntimeSettings, runner: CommandRunner, logDir: String) {
        self.settings = settings
        self.runner = runner
        self.logDir = logDir
    }

    var runtimeName: String { settings.runtime.name }

    /// Starts `call`; `completion` gets the result of a zero exit, or the
    /// runtime's error.
    func run(_ call: RuntimeCall, completion: @escaping (Result<CommandResult, CoreError>) -> Void) {
        invocation += 1
        let logFile = settings.jsonErrors ? FileSystem.join(logDir, "runtime-\(call.operation)-\(invocation).json") : nil
        var argv = [settings.runtime.path]
        if let root = settings.root { argv += ["--root", root] }
        if let logFile { argv += ["--log", logFile, "--log-format", "json"] }
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
        let name = settings.runtime.name
        do {
            if logFile != nil { try FileSystem.createDirectory(logDir, mode: 0o700) }
            try runner.run(command) { result in
                let log = logFile.flatMap { try? FileSystem.readIfExists($0) }
                if let logFile { try? FileSystem.removeFile(logFile) }
                if result.succeeded {
                    completion(.success(result))
                } else {
                    completion(.failure(RuntimeFailure.error(
                        runtime: name, operation: call.operation, jsonLog: log, stderr: result.stderrText,
                        termination: "\(result.termination)", timedOut: result.timedOut, timeoutSeconds: timeout)))
                }
            }
        } catch {
            if let logFile { try? FileSystem.removeFile(logFile) }
            completion(.failure(CoreError(.runtimeFailed, "cannot run \(name) \(call.operation): \(error)")))
        }
    }

    // --- the subcommands ---------------------------------------------------------

    func start(_ id: String, _ done: @escaping (Result<CommandResult, CoreError>) -> Void) {
        run(RuntimeCall("start", ["start", id]), completion: done)
    }

    func kill(_ id: String, signal: Int32, all: Bool, _ done: @escaping (Result<CommandResult, CoreError>) -> Void) {
        run(RuntimeCall("kill", ["kill"] + (all ? ["--all"] : []) + [id, String(signal)]), completion: done)
    }

    func pause(_ id: String, _ done: @escaping (Result<CommandResult, CoreError>) -> Void) {
        run(RuntimeCall("pause", ["pause", id]), completion: done)
    }

    func resume(_ id: String, _ done: @escaping (Result<CommandResult, CoreError>) -> Void) {
        run(RuntimeCall("resume", ["resume", id]), completion: done)
    }

    func delete(_ id: String, force: Bool, _ done: @escaping (Result<CommandResult, CoreError>) -> Void) {
        run(RuntimeCall("delete", ["delete"] + (force ? ["--force"] : []) + [id]), completion: done)
    }

    /// `runc update --resources - ID` with the resources on stdin.
    func update(_ id: String, resourcesJSON: [UInt8], _ done: @escaping (Result<CommandResult, CoreError>) -> Void) {
        var call = RuntimeCall("update", ["update", "--resources", "-", id])
        call.stdin = resourcesJSON
        run(call, completion: done)
    }

    /// The runtime's view (`runc state`): its status string, pid and bundle,
    /// or nil when it no longer knows the container.
    func state(_ id: String, _ done: @escaping (Result<(status: String, pid: Int32, bundle: String)?, CoreError>) -> Void) {
        run(RuntimeCall("state", ["state", id])) { result in
            switch result {
            case .success(let output):
                guard let json = try? JSONValue(parsing: output.stdout), let status = json["status"]?.stringValue else {
                    return done(.failure(.internal("cannot decode `state` output of the runtime: \(output.stdoutText)")))
                }
                done(.success((status, Int32(json["pid"]?.intValue ?? 0), json["bundle"]?.stringValue ?? "")))
            case .failure(let error):
                if error.message.contains("does not exist") || error.message.contains("not found") && error.message.contains("container") {
                    done(.success(nil))
                } else {
                    done(.failure(error))
                }
            }
        }
    }
}
