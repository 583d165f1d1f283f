/// What State reports: the monitor's knowledge, without asking the runtime.
public struct ContainerSnapshot: Sendable, Equatable {
    public var id: String
    public var status: ContainerStatus
    public var pid: Int32 = 0
    /// Set whenever status is stopped (-1: the runtime lost the container).
    public var exitCode: Int32?
    public var createdAt: Int64 = 0
    public var startedAt: Int64 = 0
    public var finishedAt: Int64 = 0
    public var oomKilled = false
    /// The exit is a checkpoint's (stopped by Checkpoint without leave-running).
    public var checkpointed = false
    public var bundle = ""
    public var terminal = false
    public var logError: String?
    public var logBytesDropped: UInt64 = 0
    public var execIDs: [String] = []

    public init(id: String, status: ContainerStatus) {
        self.id = id
        self.status = status
    }
}
