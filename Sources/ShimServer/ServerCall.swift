import ShimProtocol

/// One stream of a connection, from its request to its last frame: a unary
/// call answers once; a streaming call sends data and ends with `finish` or
/// `fail`. Frames for a connection that has gone are dropped.
public final class ServerCall {
    public let streamID: UInt32
    public let method: String
    weak var connection: Connection?
    public private(set) var isFinished = false
    /// Whether the client has half-closed its side (or never streams input).
    public private(set) var inputClosed: Bool

    /// Client data frames (streams with client input), raw message bytes.
    public var onData: (([UInt8]) -> Void)?
    /// The client half-closed its side.
    public var onInputClosed: (() -> Void)?
    /// The call ended without the handler finishing it: the connection went
    /// away or the deadline passed. Release what the call holds; work that
    /// changes the container is not undone (docs/PROTOCOL.md, deadlines).
    public var onCancel: (() -> Void)?

    init(streamID: UInt32, method: String, connection: Connection, inputClosed: Bool) {
        self.streamID = streamID
        self.method = method
        self.connection = connection
        self.inputClosed = inputClosed
    }

    /// A label for logs: "Attach#5 on stdio".
    public var label: String { "\(method)#\(streamID) on \(connection?.label ?? "closed connection")" }

    /// Unary success.
    public func reply(_ payload: [UInt8]) {
        guard !isFinished else { return }
        finishWith(Frame(streamID: streamID, type: .response, payload: ResponseEnvelope.success(payload)))
    }

    /// Ends the call with an error status (unary or stream).
    public func fail(_ error: RPCError) {
        guard !isFinished else { return }
        finishWith(Frame(streamID: streamID, type: .response, payload: ResponseEnvelope.failure(error)))
    }

    /// One message of a server stream.
    public func send(_ payload: [UInt8]) {
        guard !isFinished else { return }
        connection?.send(Frame(streamID: streamID, type: .data, flags: [], payload: payload))
    }

    /// Ends a server stream successfully, as ttrpc does: a data frame with
    /// "remote closed" and no data.
    public func finish() {
        guard !isFinished else { return }
        finishWith(Frame(streamID: streamID, type: .data, flags: [.remoteClosed, .noData]))
    }

    /// Bytes queued to this call's connection and not yet written: streaming
    /// producers slow down when it grows.
    public var pendingOutput: Int { connection?.pendingOutput ?? 0 }

    private func finishWith(_ frame: Frame) {
        isFinished = true
        connection?.send(frame)
        connection?.callEnded(self)
        release()
    }

    // --- driven by the connection --------------------------------------------

    func deliver(_ payload: [UInt8]) {
        onData?(payload)
    }

    func closeInput() {
        guard !inputClosed else { return }
        inputClosed = true
        onInputClosed?()
    }

    /// The request's deadline passed before the handler answered: the
    /// client gets DEADLINE_EXCEEDED and the handler's `onCancel` runs, so
    /// that what the call holds (a Wait's registration, an ExecSync's
    /// process) is released as when the client goes away.
    func expire(_ error: RPCError) {
        guard !isFinished else { return }
        let cancel = onCancel
        fail(error)
        cancel?()
    }

    func cancel() {
        guard !isFinished else { return }
        isFinished = true
        let cancel = onCancel
        release()
        cancel?()
    }

    private func release() {
        onData = nil
        onInputClosed = nil
        onCancel = nil
    }
}
