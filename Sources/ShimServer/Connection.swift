import Glibc
import Logging
import ShimProtocol
import ShimSystem
import SystemPackage

/// One client of the shim (the engine on stdio, or a socket peer): reads
/// frames, enforces the ttrpc rules, hands requests to the router and writes
/// answers without ever blocking the loop.
public final class Connection {
    public let label: String
    private let loop: EventLoop
    private let router: RPCRouter
    private let readFD: FileDescriptor
    private let writeFD: FileDescriptor
    private let scratch: ScratchBuffer
    private let log: Logger
    private var decoder = FrameDecoder()
    /// Frames the client has not taken yet.
    private let output: WriteQueue
    private var lastStreamID: UInt32 = 0
    private var calls: [UInt32: ServerCall] = [:]
    private var deadlines: [UInt32: EventLoop.TimerToken] = [:]
    public private(set) var isOpen = true
    /// Called once when the connection has closed.
    public var onClose: ((Connection) -> Void)?

    /// A client that stops reading may hold this much unsent output before
    /// it is disconnected; the shim's memory must not grow without bound.
    static let outboxLimit = 64 << 20

    /// A client on `readFD`/`writeFD` (the same fd for a socket), served
    /// by `router` once `start` runs. The connection owns the fds.
    public init(label: String, readFD: FileDescriptor, writeFD: FileDescriptor, loop: EventLoop, router: RPCRouter, scratch: ScratchBuffer, log: Logger) {
        self.label = label
        self.readFD = readFD
        self.writeFD = writeFD
        self.loop = loop
        self.router = router
        self.scratch = scratch
        self.log = log
        // A socket is read and written through one fd, which the loop
        // watches once: the read watch takes EPOLLOUT on while frames wait.
        output = WriteQueue(fd: writeFD, loop: loop, limit: Connection.outboxLimit,
                            watching: readFD == writeFD
                                ? .byOwner { [loop] waiting in loop.change(writeFD, waiting ? [.readable, .writable] : .readable) }
                                : .byQueue)
        output.onFailed = { [unowned self] error, _ in
            log.debug("\(label): write failed: \(error); client gone")
            close()
        }
    }

    public func start() throws(SystemError) {
        for fd in Set([readFD, writeFD]) {
            _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) | O_NONBLOCK)
        }
        // A socket is one fd for both directions: its writability (watched
        // while output is pending) comes through this handler too.
        try loop.watch(readFD, .readable) { [unowned self] readiness in
            // Held for the whole handler: a failed flush closes the
            // connection, and the server then lets go of it.
            let connection = self
            if connection.readFD == connection.writeFD && readiness.writable { connection.output.flush() }
            if readiness.readable && connection.isOpen { connection.readable(readiness) }
        }
    }

    public var pendingOutput: Int { output.pendingBytes }
    public var activeCalls: Int { calls.count }

    // --- input ----------------------------------------------------------------

    private func readable(_ readiness: EventLoop.Readiness) {
        // Bounded per turn so one busy client cannot starve the others.
        for _ in 0..<16 {
            guard isOpen else { return }
            let buffer = scratch.bytes
            let n = read(readFD.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 {
                decoder.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { handle($0) }
                if n < buffer.count { return }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            let why = n == 0 ? "EOF" : "read error: \(SystemError("read").errno)"
            if decoder.pendingBytes > 0 {
                log.warning("\(label): \(why) in the middle of a frame (\(decoder.pendingBytes) bytes discarded)")
            } else {
                log.debug("\(label): \(why)")
            }
            close()
            return
        }
    }

    private func handle(_ event: FrameDecoder.Event) {
        switch event {
        case .oversized(let streamID, let length):
            respondError(streamID, RPCError(.resourceExhausted,
                "message length \(length) exceeds maximum message size of \(FrameHeader.maxDataLength)"))
        case .frame(let frame):
            handle(frame)
        }
    }

    private func handle(_ frame: Frame) {
        guard frame.streamID % 2 == 1 else {
            return respondError(frame.streamID, RPCError(.invalidArgument, "StreamID must be odd for client initiated streams"))
        }
        switch frame.type {
        case .request: handleRequest(frame)
        case .data: handleData(frame)
        case .response, nil:
            // Clients do not send responses; unknown types are ignored as
            // ttrpc does, for compatibility with later protocol versions.
            log.debug("\(label): ignored frame type \(frame.rawType) on stream \(frame.streamID)")
        }
    }

    private func handleRequest(_ frame: Frame) {
        guard frame.streamID > lastStreamID else {
            return respondError(frame.streamID, RPCError(.invalidArgument, "StreamID cannot be re-used and must increment"))
        }
        lastStreamID = frame.streamID
        let request: RequestEnvelope
        do {
            request = try RequestEnvelope(decoding: frame.payload)
        } catch {
            return respondError(frame.streamID, RPCError(.invalidArgument, "unmarshal request error: \(error)"))
        }
        let kind = router.kind(service: request.service, method: request.method)
        // A unary request, or a stream whose client sends nothing more.
        let inputClosed = kind != .bidirectional || frame.flags.contains(.remoteClosed) || !frame.flags.contains(.remoteOpen)
        let call = ServerCall(streamID: frame.streamID, method: request.method, connection: self, inputClosed: inputClosed)
        calls[frame.streamID] = call
        if request.timeoutNano > 0 {
            deadlines[frame.streamID] = loop.schedule(afterNanos: request.timeoutNano) { [weak call] in
                call?.expire(RPCError(.deadlineExceeded, "\(request.method): deadline of \(Double(request.timeoutNano) / 1e9)s exceeded"))
            }
        }
        log.trace("\(label): \(request.method)#\(frame.streamID)")
        router.dispatch(request, call: call)
    }

    private func handleData(_ frame: Frame) {
        guard let call = calls[frame.streamID], !call.inputClosed else {
            return respondError(frame.streamID, RPCError(.invalidArgument, "StreamID is no longer active"))
        }
        if !frame.flags.contains(.noData) { call.deliver(frame.payload) }
        if frame.flags.contains(.remoteClosed) { call.closeInput() }
    }

    /// An error for a frame that never became (or no longer is) a call.
    private func respondError(_ streamID: UInt32, _ error: RPCError) {
        log.debug("\(label): stream \(streamID): \(error)")
        send(Frame(streamID: streamID, type: .response, payload: ResponseEnvelope.failure(error)))
    }

    func callEnded(_ call: ServerCall) {
        calls[call.streamID] = nil
        if let timer = deadlines.removeValue(forKey: call.streamID) { loop.cancel(timer) }
    }

    // --- output ---------------------------------------------------------------

    /// Writes the frame (header and payload gathered, nothing copied), or
    /// queues what the client does not take now.
    func send(_ frame: Frame) {
        guard isOpen else { return }
        let result = withUnsafeTemporaryAllocation(byteCount: FrameHeader.size, alignment: 4) { header in
            frame.header.encode(to: header)
            return frame.payload.withUnsafeBytes { output.append(UnsafeRawBufferPointer(header), $0) }
        }
        if result == .overLimit {
            log.warning("\(label): client is not reading (\(pendingOutput) bytes pending); disconnecting it")
            close()
        }
    }

    // --- teardown -------------------------------------------------------------

    /// Drops the client: its calls are cancelled (attach detaches, event
    /// subscriptions end); nothing of the container is touched.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        output.close()
        loop.unwatch(readFD)
        loop.unwatch(writeFD)
        try? readFD.close()
        if writeFD != readFD { try? writeFD.close() }
        for timer in deadlines.values { loop.cancel(timer) }
        deadlines = [:]
        let open = calls.values
        calls = [:]
        for call in open { call.cancel() }
        onClose?(self)
        onClose = nil
    }
}
