import ContainerdProtocol
import Glibc
import Logging
import ShimProtocol
import ShimSystem
import SystemPackage
import SwiftProtobuf

/// Publishes task events to containerd as its shims do
/// (runtime/v2/shim/publisher.go): each event in an Envelope (timestamp,
/// namespace, topic, the event as a typeurl Any) through
/// `containerd.services.events.ttrpc.v1.Events/Forward` on containerd's
/// TTRPC_ADDRESS, with the namespace in the ttrpc metadata too.
///
/// On the loop, never blocking it: one Forward in flight at a time, so
/// events arrive in the order they happened. While containerd cannot be
/// reached (restarting), events wait and the connection is retried with a
/// growing delay; an event containerd refuses is dropped with a warning, as
/// are the oldest ones beyond `queueLimit`.
final class EventPublisher {
    static let queueLimit = 4096
    static let forwardTimeoutNanos: Int64 = 5_000_000_000
    static let retryDelays: [Double] = [0.1, 0.25, 0.5, 1, 2, 5]
    static let namespaceHeader = "containerd-namespace-ttrpc"

    private let socketPath: String?
    private let namespace: String
    private let loop: EventLoop
    private let scratch: ScratchBuffer
    private let log: Logger
    private var queue: [[UInt8]] = []
    /// The connection to containerd; nil while there is none.
    private var fd: FileDescriptor?
    private var output: WriteQueue?
    private var decoder = FrameDecoder()
    private var nextStreamID: UInt32 = 1
    private var inFlight: (streamID: UInt32, timer: EventLoop.TimerToken)?
    private var retryTimer: EventLoop.TimerToken?
    private var failures = 0

    /// `address`: TTRPC_ADDRESS, a socket path (or `unix://` path); empty:
    /// events are not published (a shim run by hand).
    init(address: String, namespace: String, loop: EventLoop, scratch: ScratchBuffer, log: Logger) {
        let path = address.hasPrefix("unix://") ? String(address.dropFirst("unix://".count)) : address
        socketPath = path.isEmpty ? nil : path
        self.namespace = namespace
        self.loop = loop
        self.scratch = scratch
        self.log = log
    }

    /// Events waiting to be forwarded (the one in flight included).
    var pendingCount: Int { queue.count }

    func publish<Event: SwiftProtobuf.Message>(topic: String, _ event: Event) {
        guard socketPath != nil else { return }
        var envelope = Containerd_Services_Events_Ttrpc_V1_Envelope()
        envelope.timestamp = Timestamps.now()
        envelope.namespace = namespace
        envelope.topic = topic
        do {
            envelope.event = try TypeURL.pack(event)
            var request = Containerd_Services_Events_Ttrpc_V1_ForwardRequest()
            request.envelope = envelope
            let bytes: [UInt8] = try request.serializedBytes()
            if queue.count >= Self.queueLimit {
                log.warning("containerd has not taken \(queue.count) events; the oldest is dropped")
                queue.removeFirst()
            }
            queue.append(bytes)
        } catch {
            log.error("cannot encode event \(topic): \(error)")
            return
        }
        sendNext()
    }

    // --- sending ----------------------------------------------------------------

    private func sendNext() {
        guard inFlight == nil, let payload = queue.first else { return }
        guard fd != nil || connect() else { return }
        var request = Ttrpc_Request()
        request.service = EventsService.name
        request.method = "Forward"
        request.payload = .init(payload)
        request.timeoutNano = Self.forwardTimeoutNanos
        var header = Ttrpc_KeyValue()
        header.key = Self.namespaceHeader
        header.value = namespace
        request.metadata = [header]
        let streamID = nextStreamID
        nextStreamID &+= 2
        guard let bytes: [UInt8] = try? request.serializedBytes() else {
            queue.removeFirst()
            return sendNext()
        }
        let frame = Frame(streamID: streamID, type: .request, payload: bytes)
        let result = frame.encoded().withUnsafeBytes { output?.append($0) }
        guard result == .accepted else { return connectionFailed("cannot send to containerd") }
        let timer = loop.schedule(afterNanos: Self.forwardTimeoutNanos) { [weak self] in
            self?.connectionFailed("containerd did not answer a Forward within 5s")
        }
        inFlight = (streamID, timer)
    }

    private func connect() -> Bool {
        guard let socketPath, retryTimer == nil else { return false }
        let connected: FileDescriptor
        do {
            // Non-blocking: a containerd that does not accept (its backlog
            // full) is retried later, never waited for.
            connected = try UnixSocket.connect(path: socketPath, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
        } catch {
            scheduleRetry("cannot connect to containerd at \(socketPath): \(error)")
            return false
        }
        fd = connected
        let queue = WriteQueue(fd: connected, loop: loop, limit: 16 << 20,
                               watching: .byOwner { [loop] waiting in loop.change(connected, waiting ? [.readable, .writable] : .readable) })
        queue.onFailed = { [unowned self] error, _ in connectionFailed("write to containerd: \(error)") }
        output = queue
        decoder = FrameDecoder()
        do {
            try loop.watch(connected, .readable) { [unowned self] readiness in
                if readiness.writable { output?.flush() }
                if readiness.readable && fd != nil { readable() }
            }
        } catch {
            connectionFailed("cannot watch the connection to containerd: \(error)")
            return false
        }
        return true
    }

    private func readable() {
        while let fd {
            let buffer = scratch.bytes
            let n = read(fd.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 {
                for event in decoder.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
                    if case .frame(let frame) = event { received(frame) }
                }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            return connectionFailed(n == 0 ? "containerd closed the connection" : "read from containerd: \(SystemError("read"))")
        }
    }

    private func received(_ frame: Frame) {
        guard frame.type == .response, let (streamID, timer) = inFlight, frame.streamID == streamID else { return }
        loop.cancel(timer)
        inFlight = nil
        failures = 0
        if let response = try? Ttrpc_Response(serializedBytes: frame.payload), response.hasStatus, response.status.code != 0 {
            log.warning("containerd refused an event: \(response.status.message); it is dropped")
        }
        if !queue.isEmpty { queue.removeFirst() }
        sendNext()
    }

    private func connectionFailed(_ why: String) {
        closeConnection()
        scheduleRetry(why)
    }

    private func scheduleRetry(_ why: String) {
        guard retryTimer == nil else { return }
        let delay = Self.retryDelays[min(failures, Self.retryDelays.count - 1)]
        failures += 1
        // The first failure is worth a line; a containerd that stays away
        // (restarting) is not worth one per retry.
        if failures == 1 { log.warning("\(why); \(queue.count) event(s) wait, retrying") } else { log.debug("\(why)") }
        retryTimer = loop.schedule(afterSeconds: delay) { [weak self] in
            guard let self else { return }
            retryTimer = nil
            sendNext()
        }
    }

    private func closeConnection() {
        if let (_, timer) = inFlight { loop.cancel(timer) }
        inFlight = nil
        output?.close()
        output = nil
        if let fd {
            loop.unwatch(fd)
            try? fd.close()
            self.fd = nil
        }
    }

    func close() {
        closeConnection()
        if let retryTimer { loop.cancel(retryTimer) }
        retryTimer = nil
        queue = []
    }
}

/// google.protobuf.Timestamp from the shim's clocks.
enum Timestamps {
    static func now() -> Google_Protobuf_Timestamp { from(nanos: Clock.realtimeNanos()) }

    static func from(nanos: Int64) -> Google_Protobuf_Timestamp {
        var stamp = Google_Protobuf_Timestamp()
        stamp.seconds = nanos / 1_000_000_000
        stamp.nanos = Int32(nanos % 1_000_000_000)
        return stamp
    }
}
