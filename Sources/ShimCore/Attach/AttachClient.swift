/// A receiver of a process's output: an attach call of the protocol, a
/// conmon attach socket peer, an ExecSync capture. Called on the loop.
public protocol AttachClient: AnyObject {
    /// A chunk of output. A terminal's output is all `.stdout`, raw.
    func attachOutput(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer)
    /// Output was discarded before this client attached (an exec session's
    /// backlog overflowed while nobody was attached).
    func attachDropped(_ bytes: UInt64)
    /// The process exited and all of its output was delivered; the client is
    /// no longer attached.
    func attachEnded(exitCode: Int32)
}

/// Which process and streams an attach is for.
public struct AttachRequest: Sendable {
    /// nil: the container's process; otherwise an exec session.
    public var execID: String?
    public var stdin = false
    public var stdout = true
    public var stderr = true
    /// nil: the container's default (CreateRequest.detach_keys, else
    /// ctrl-p,ctrl-q).
    public var detachKeys: DetachKeys?
    /// Container attach: first the output kept in the end of its k8s-file
    /// log (at most `replayLimit` bytes of it). An exec session always
    /// replays its backlog.
    public var replayLog = false
    public static let replayLimit = 64 << 10

    public init(execID: String? = nil) {
        self.execID = execID
    }
}

/// What became of a client's input.
public enum AttachInputResult: Equatable, Sendable {
    /// Passed on (possibly held back as the start of the detach keys).
    case forwarded
    /// The detach keys were typed: the client is detached, the process
    /// untouched.
    case detached
    /// The client did not attach stdin, or stdin is closed: dropped.
    case ignored
    /// The process does not read its stdin fast enough: refused.
    case overloaded(String)
}
