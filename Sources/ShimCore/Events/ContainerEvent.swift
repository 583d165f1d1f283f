/// Something that happened to the container or one of its exec sessions.
public struct ContainerEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case created, started, paused, resumed, exited, oom, deleted
        case execStarted = "exec-started"
        case execExited = "exec-exited"
        case checkpointed, restored
        case logError = "log-error"
        case logResumed = "log-resumed"
    }

    /// Increases by one per event over the shim's life.
    public var seq: UInt64
    public var kind: Kind
    /// Unix nanoseconds.
    public var timestamp: Int64
    public var containerID: String
    public var execID: String = ""
    public var pid: Int32 = 0
    public var exitCode: Int32 = 0
    public var message: String = ""

    public init(seq: UInt64, kind: Kind, timestamp: Int64, containerID: String) {
        self.seq = seq
        self.kind = kind
        self.timestamp = timestamp
        self.containerID = containerID
    }
}
