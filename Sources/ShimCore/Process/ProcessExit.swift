/// How a monitored process ended, as Wait, Stop, State and the exit events
/// report it.
public struct ProcessExit: Sendable, Equatable {
    /// The exit status, or 128 + the signal (conmon's rule); -1 when the
    /// runtime lost the process.
    public var exitCode: Int32
    /// Unix time in nanoseconds.
    public var finishedAt: Int64
    /// The container's memory cgroup saw an OOM kill.
    public var oomKilled = false
    /// The init ended because a checkpoint stopped it.
    public var checkpointed = false
    /// An exec session's timeout killed it.
    public var timedOut = false

    public init(exitCode: Int32, finishedAt: Int64, oomKilled: Bool = false, checkpointed: Bool = false,
                timedOut: Bool = false) {
        self.exitCode = exitCode
        self.finishedAt = finishedAt
        self.oomKilled = oomKilled
        self.checkpointed = checkpointed
        self.timedOut = timedOut
    }
}

/// The engine's exit command (podman's `container cleanup`), run once the
/// exit has been recorded.
public struct ExitCommandSpec: Sendable, Equatable {
    public var argv: [String]
    public var delaySeconds: UInt32

    public init(argv: [String], delaySeconds: UInt32 = 0) {
        self.argv = argv
        self.delaySeconds = delaySeconds
    }
}
