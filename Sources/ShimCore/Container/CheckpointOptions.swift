import ShimSystem

/// What Checkpoint asks for: the seed's ContainerCheckpointOptions as far as
/// the runtime sees them (`runc checkpoint` options).
public struct CheckpointOptions: Sendable {
    /// Where CRIU writes the images (the seed's ctr.CheckpointPath()).
    public var imagePath: String
    /// CRIU's dump.log and stats; nil: the bundle, as the seed does.
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
    public var exit: ContainerExit?
}

/// A checkpoint in flight, and whether the container's end was one.
struct CheckpointProgress {
    /// `runc checkpoint` runs now.
    var inFlight = false
    var leaveRunning = false
    /// The init's end, seen while a stopping checkpoint ran: recorded once
    /// the runtime says whether that end was the checkpoint's.
    var heldExit: Termination?
    /// A checkpoint without leave-running succeeded: the init's exit is the
    /// checkpoint's, not a crash.
    var stoppedByCheckpoint = false
}
