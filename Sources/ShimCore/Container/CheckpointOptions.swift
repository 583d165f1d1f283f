import ShimSystem

/// What Checkpoint asks for: podman's ContainerCheckpointOptions as far as
/// the runtime sees them (`runc checkpoint` options).
public struct CheckpointOptions: Sendable {
    /// Where CRIU writes the images (podman's ctr.CheckpointPath()).
    public var imagePath: String
    /// CRIU's dump.log and stats; nil: the bundle, as podman does.
    public var workPath: String?
    /// The container goes on running after the dump (--leave-running).
    public var leaveRunning = false
    public var tcpEstablished = false
    public var fileLocks = false
    /// Extra options for `runc checkpoint`, before the container id.
    public var runtimeArgs: [String] = []

    public init(imagePath: String) {
        self.imagePath = imagePath
    }
}

/// How a checkpoint left the container.
public struct CheckpointOutcome: Sendable, Equatable {
    /// running (leave-running) or stopped.
    public var status: ContainerStatus
    /// The exit of the checkpointed init, when it was stopped.
    public var exit: ProcessExit?
}

/// A checkpoint in flight, and whether the container's end was one.
struct CheckpointProgress: Equatable {
    var leaveRunning: Bool
    /// The container was paused (containerd pauses a task around its
    /// checkpoint): a checkpoint that leaves it, or fails, leaves it paused.
    var fromPaused = false
    /// The init's end, seen while a stopping checkpoint's runtime call ran:
    /// recorded once the runtime says whether that end was the checkpoint's.
    var heldExit: Int32?
    /// The runtime dumped the container (without leave-running): the init's
    /// end, held or still to come, is the checkpoint's.
    var dumped = false

    init(leaveRunning: Bool, fromPaused: Bool = false) {
        self.leaveRunning = leaveRunning
        self.fromPaused = fromPaused
    }

    /// The phase a checkpoint that leaves the container returns to.
    var phaseAfter: ContainerPhase { fromPaused ? .paused : .running }
}
