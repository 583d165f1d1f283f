import Glibc
import ShimSystem

/// The conmon runtime core of one shim: what podman's ConmonOCIRuntime and the
/// conmon monitor do for one container, driven from the shim's event loop.
/// Operations complete through callbacks on the loop; none blocks it.
public final class RuntimeCore {
    public let config: ShimConfig
    public let runtime: ResolvedRuntime
    public let loop: EventLoop
    public let reaper: ChildReaper
    public let runner: CommandRunner
    private let probe: RuntimeProbe

    /// Resolves the runtime and validates the configuration; an error here is
    /// a start-up error of the shim.
    public init(config: ShimConfig, loop: EventLoop, reaper: ChildReaper) throws(CoreError) {
        try ShimConfig.validateContainerID(config.containerID)
        try RuntimeLocator.validateCgroupManager(config.cgroupManager)
        self.config = config
        self.runtime = try RuntimeLocator.resolve(config.runtime)
        self.loop = loop
        self.reaper = reaper
        self.runner = CommandRunner(loop: loop, reaper: reaper)
        self.probe = RuntimeProbe(runtime: runtime, features: config.features, runner: runner,
                                  timeoutNanos: Int64(config.runtimeTimeoutSeconds * 1e9),
                                  environment: RuntimeCore.probeEnvironment())
    }

    public var containerID: String { config.containerID }

    public func runtimeInfo(_ done: @escaping (Result<RuntimeInfo, CoreError>) -> Void) {
        probe.runtimeInfo(done)
    }

    public func capabilities(_ done: @escaping (RuntimeCapabilities) -> Void) {
        probe.capabilities(done)
    }

    public func checkpointSupport(_ done: @escaping (CheckpointSupport) -> Void) {
        probe.checkpointSupport(done)
    }

    /// True while the shim has something to keep alive for: a container that
    /// has been created and not deleted. Without one, the shim may exit when
    /// its last client leaves.
    public var holdsContainer: Bool { false }

    /// PATH is all a `--version` or package query needs.
    private static func probeEnvironment() -> [String] {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return ["PATH=\(path)"]
    }
}
