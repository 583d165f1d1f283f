import Glibc
import ShimSystem

public struct ComponentInfo: Sendable, Equatable {
    public var name: String
    public var path: String
    public var package: String
    public var version: String
}

/// podman's RuntimeInfo: the OCI runtime and the monitor (here, the shim).
public struct RuntimeInfo: Sendable, Equatable {
    public var runtime: ComponentInfo
    public var shim: ComponentInfo
}

/// podman's Supports* answers.
public struct RuntimeCapabilities: Sendable, Equatable {
    public var runtimeName: String
    public var checkpoint: Bool
    public var jsonErrors: Bool
    public var noCgroups: Bool
    public var kvm: Bool
}

public struct CheckpointSupport: Sendable, Equatable {
    /// `<runtime> checkpoint --help` succeeds.
    public var runtimeSupports: Bool
    /// `criu check` succeeds.
    public var criuWorks: Bool
    public var criuReason: String
}

/// Asks the runtime and the system what they are and can do. Answers that
/// cannot change while the shim lives are cached: engines call RuntimeInfo on
/// every `podman info`, and each answer costs several forks.
final class RuntimeProbe {
    private let runtime: ResolvedRuntime
    private let features: RuntimeFeatureLists
    private let runner: CommandRunner
    private let timeoutNanos: Int64
    private let environment: [String]
    private var cachedInfo: RuntimeInfo?
    private var cachedCheckpointHelp: Bool?

    init(runtime: ResolvedRuntime, features: RuntimeFeatureLists, runner: CommandRunner, timeoutNanos: Int64, environment: [String]) {
        self.runtime = runtime
        self.features = features
        self.runner = runner
        self.timeoutNanos = timeoutNanos
        self.environment = environment
    }

    func runtimeInfo(_ done: @escaping (Result<RuntimeInfo, CoreError>) -> Void) {
        if let cachedInfo { return done(.success(cachedInfo)) }
        let version = CommandRunner.Command(path: runtime.path, arguments: [runtime.path, "--version"],
                                            environment: environment, timeoutNanos: timeoutNanos)
        do {
            try runner.run(version) { [self] result in
                guard result.succeeded else {
                    let why = result.timedOut ? "timed out" : "\(result.termination): \(result.stderrText)"
                    return done(.failure(CoreError(.runtimeFailed, "error getting version of OCI runtime \(runtime.name): \(why)")))
                }
                // podman strips one trailing newline from the runtime's output.
                let runtimeVersion = PackageQuery.trimNewlines(result.stdoutText)
                lookupPackages(runtimeVersion: runtimeVersion, done)
            }
        } catch {
            done(.failure(CoreError(.runtimeFailed, "error getting version of OCI runtime \(runtime.name): \(error)")))
        }
    }

    private func lookupPackages(runtimeVersion: String, _ done: @escaping (Result<RuntimeInfo, CoreError>) -> Void) {
        let shimPath = Self.ownExecutable()
        PackageQuery.lookup(runtime.path, runner: runner, environment: environment, timeoutNanos: timeoutNanos) { [self] runtimePackage in
            PackageQuery.lookup(shimPath, runner: runner, environment: environment, timeoutNanos: timeoutNanos) { [self] shimPackage in
                let info = RuntimeInfo(
                    runtime: ComponentInfo(name: runtime.name, path: runtime.path, package: runtimePackage, version: runtimeVersion),
                    shim: ComponentInfo(name: "ocishim", path: shimPath, package: shimPackage,
                                        version: "ocishim version \(ShimVersion.current)"))
                cachedInfo = info
                done(.success(info))
            }
        }
    }

    func capabilities(_ done: @escaping (RuntimeCapabilities) -> Void) {
        checkpointHelp { [self] checkpoint in
            done(RuntimeCapabilities(
                runtimeName: runtime.name, checkpoint: checkpoint,
                jsonErrors: features.json.contains(runtime.name),
                noCgroups: features.noCgroups.contains(runtime.name),
                kvm: features.kvm.contains(runtime.name)))
        }
    }

    func checkpointSupport(_ done: @escaping (CheckpointSupport) -> Void) {
        checkpointHelp { [self] runtimeSupports in
            guard let criu = FileSystem.lookPath("criu") else {
                return done(CheckpointSupport(runtimeSupports: runtimeSupports, criuWorks: false, criuReason: "criu not found in $PATH"))
            }
            let check = CommandRunner.Command(path: criu, arguments: [criu, "check"], environment: environment, timeoutNanos: timeoutNanos)
            do {
                try runner.run(check) { result in
                    let output = PackageQuery.trimNewlines(result.stderrText + result.stdoutText)
                    let reason = result.succeeded ? "" : (output.isEmpty ? "criu check: \(result.termination)" : output)
                    done(CheckpointSupport(runtimeSupports: runtimeSupports, criuWorks: result.succeeded, criuReason: reason))
                }
            } catch {
                done(CheckpointSupport(runtimeSupports: runtimeSupports, criuWorks: false, criuReason: "\(error)"))
            }
        }
    }

    /// podman's SupportsCheckpoint: does `<runtime> checkpoint --help` exit 0.
    private func checkpointHelp(_ done: @escaping (Bool) -> Void) {
        if let cachedCheckpointHelp { return done(cachedCheckpointHelp) }
        let help = CommandRunner.Command(path: runtime.path, arguments: [runtime.path, "checkpoint", "--help"],
                                         environment: environment, timeoutNanos: timeoutNanos)
        do {
            try runner.run(help) { [self] result in
                cachedCheckpointHelp = result.succeeded
                done(result.succeeded)
            }
        } catch {
            done(false)
        }
    }

    /// The running binary, for the shim's own package lookup.
    static func ownExecutable() -> String {
        FileSystem.readLink("/proc/self/exe") ?? "ocishim"
    }
}
