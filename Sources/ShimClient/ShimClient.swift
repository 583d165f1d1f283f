import CShimSys
import Glibc
import ShimProtocol
import ShimSystem
import SystemPackage
import SwiftProtobuf

/// The engine's side of one shim: spawn it or connect to it, then call its
/// rpcs. Blocking and single-threaded; frames of other streams that arrive
/// while one call waits are queued for their readers.
public final class ShimClient {
    public let connection: FrameConnection
    private var nextStreamID: UInt32 = 1
    private var queued: [UInt32: [Frame]] = [:]
    /// Seconds a call waits for its answer.
    public var timeoutSeconds: Double = 120
    /// CPU time (user + system) of the process `spawn` started and reaped
    /// once the shim was up: what starting a shim costs the engine's host
    /// besides the shim itself. nil for a connection or a `--foreground` shim.
    public private(set) var launcherCPUSeconds: Double?

    public init(connection: FrameConnection) {
        self.connection = connection
    }

    /// Starts `<shim> serve <arguments>` with pipes for stdio. The shim
    /// detaches unless `--foreground` is among the arguments: its first
    /// process exits once the shim is up (listening, off this process's
    /// stderr) and is reaped here; a non-zero exit is a failed start.
    /// `inheritedFds` map the shim's fd numbers to this process's fds
    /// (socket activation's LISTEN_FDS at 3.., fds named by --keep-fd).
    ///
    /// The client ignores SIGPIPE for the whole process: a shim that goes
    /// away must surface as an error on the next call, not end the engine.
    public static func spawn(shim: String, arguments: [String], environment: [String]? = nil,
                             inheritedFds: [(child: FileDescriptor, parent: FileDescriptor)] = []) throws(ClientError) -> ShimClient {
        SignalSource.ignore([SIGPIPE])
        let toShim: (read: FileDescriptor, write: FileDescriptor)
        let fromShim: (read: FileDescriptor, write: FileDescriptor)
        do {
            toShim = try Pipe.make()
            fromShim = try Pipe.make()
        } catch {
            throw .system(error)
        }
        var options = SpawnOptions(path: shim, arguments: [shim, "serve"] + arguments,
                                   environment: environment ?? ShimClient.currentEnvironment())
        options.fds = [(.standardInput, toShim.read), (.standardOutput, fromShim.write), (.standardError, .standardError)]
            + inheritedFds
        let pid: pid_t
        do {
            pid = try Spawner.spawn(options)
        } catch {
            for fd in [toShim.read, toShim.write, fromShim.read, fromShim.write] { try? fd.close() }
            throw .spawn("\(error)")
        }
        try? toShim.read.close()
        try? fromShim.write.close()
        var launcherCPUSeconds: Double?
        if !arguments.contains("--foreground") {
            var status: Int32 = 0
            var usage = rusage()
            while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
            if status != 0 {
                try? toShim.write.close()
                try? fromShim.read.close()
                throw .spawn("\(shim) serve exited with \(Termination.describe(waitStatus: status)) (see its stderr)")
            }
            launcherCPUSeconds = usage.cpuSeconds
        }
        let client = ShimClient(connection: FrameConnection(readFD: fromShim.read, writeFD: toShim.write))
        client.launcherCPUSeconds = launcherCPUSeconds
        return client
    }

    /// Connects to a running shim's socket (`<state-dir>/shim.sock`).
    public static func connect(socketPath: String) throws(ClientError) -> ShimClient {
        SignalSource.ignore([SIGPIPE])
        do throws(SystemError) {
            let fd = try UnixSocket.connect(path: socketPath, type: Int32(SOCK_STREAM.rawValue))
            return ShimClient(connection: FrameConnection(readFD: fd, writeFD: fd))
        } catch {
            throw .system(error)
        }
    }

    /// Connects to the shim whose state directory is `stateDir`.
    public static func connect(stateDir: String) throws(ClientError) -> ShimClient {
        try connect(socketPath: FileSystem.join(stateDir, "shim.sock"))
    }

    public func close() { connection.close() }

    /// Allocates the next client stream id (odd, increasing).
    public func allocateStreamID() -> UInt32 {
        defer { nextStreamID += 2 }
        return nextStreamID
    }

    // --- unary calls ------------------------------------------------------------

    /// Calls `method` and decodes its answer; a non-OK status throws `.rpc`.
    /// `service`: another ttrpc service the peer serves (containerd's task
    /// API on a containerd shim).
    public func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, _ request: Request, as: Response.Type = Response.self, timeoutSeconds: Double? = nil,
        service: String = ShimService.name
    ) throws(ClientError) -> Response {
        let payload: [UInt8]
        do { payload = try request.serializedBytes() } catch {
            throw .protocolViolation("cannot encode \(Request.protoMessageName): \(error)")
        }
        let response = try callRaw(method, payload: payload, timeoutSeconds: timeoutSeconds, service: service)
        if let error = RPCError(status: response.status) { throw .rpc(error) }
        do {
            return try Response(serializedBytes: [UInt8](response.payload))
        } catch {
            throw .protocolViolation("\(method) answered with an undecodable \(Response.protoMessageName): \(error)")
        }
    }

    /// Sends a unary request and returns the Response envelope as is.
    public func callRaw(_ method: String, payload: [UInt8], timeoutSeconds: Double? = nil,
                        service: String = ShimService.name) throws(ClientError) -> Ttrpc_Response {
        let id = try sendRequest(method, payload: payload, flags: [], service: service)
        return try awaitResponse(streamID: id, what: method, timeoutSeconds: timeoutSeconds ?? self.timeoutSeconds)
    }

    /// Sends a Request frame; returns its stream id.
    public func sendRequest(_ method: String, payload: [UInt8], flags: FrameFlags, timeoutNanos: Int64 = 0,
                            service: String = ShimService.name) throws(ClientError) -> UInt32 {
        var request = Ttrpc_Request()
        request.service = service
        request.method = method
        request.payload = .init(payload)
        request.timeoutNano = timeoutNanos
        let id = allocateStreamID()
        let bytes: [UInt8]
        do { bytes = try request.serializedBytes() } catch { throw .protocolViolation("cannot encode the request: \(error)") }
        try connection.send(Frame(streamID: id, type: .request, flags: flags, payload: bytes))
        return id
    }

    /// Waits for the Response frame of `streamID`.
    public func awaitResponse(streamID: UInt32, what: String, timeoutSeconds: Double) throws(ClientError) -> Ttrpc_Response {
        while true {
            let frame = try nextFrame(of: streamID, what: what, timeoutSeconds: timeoutSeconds)
            guard frame.type == .response else { continue }
            do {
                return try Ttrpc_Response(serializedBytes: frame.payload)
            } catch {
                throw .protocolViolation("undecodable response on stream \(streamID): \(error)")
            }
        }
    }

    // --- streams ----------------------------------------------------------------

    /// Opens a streaming call (Events, Attach).
    public func openStream<Request: SwiftProtobuf.Message>(_ method: String, _ request: Request) throws(ClientError) -> ClientStream {
        guard let info = ShimService.method(named: method), info.kind != .unary else {
            throw .protocolViolation("\(method) is not a streaming method")
        }
        let payload: [UInt8]
        do { payload = try request.serializedBytes() } catch { throw .protocolViolation("cannot encode \(Request.protoMessageName): \(error)") }
        let id = try sendRequest(method, payload: payload, flags: info.requestFlags)
        return ClientStream(client: self, streamID: id, method: method)
    }

    /// The next frame for `streamID`, queueing frames of other streams.
    public func nextFrame(of streamID: UInt32, what: String, timeoutSeconds: Double) throws(ClientError) -> Frame {
        if var pending = queued[streamID], !pending.isEmpty {
            let frame = pending.removeFirst()
            queued[streamID] = pending.isEmpty ? nil : pending
            return frame
        }
        let (sum, overflow) = Clock.monotonicNanos().addingReportingOverflow(Clock.nanos(fromSeconds: timeoutSeconds))
        let deadline = overflow ? Int64.max : sum
        while true {
            let left = Int32(clamping: max(0, (deadline - Clock.monotonicNanos()) / 1_000_000))
            guard let frame = try connection.receive(timeoutMillis: timeoutSeconds < 0 ? -1 : left) else { throw .closed }
            if frame.streamID == streamID { return frame }
            queued[frame.streamID, default: []].append(frame)
        }
    }

    static func currentEnvironment() -> [String] { ProcessEnvironment.current() }
}

/// The client's end of a streaming call.
public final class ClientStream {
    public let streamID: UInt32
    public let method: String
    unowned let client: ShimClient
    public private(set) var isFinished = false

    init(client: ShimClient, streamID: UInt32, method: String) {
        self.client = client
        self.streamID = streamID
        self.method = method
    }

    /// The next message, or nil when the shim ended the stream successfully.
    /// An error status ends it with `.rpc`.
    public func next<Output: SwiftProtobuf.Message>(_ type: Output.Type, timeoutSeconds: Double = -1) throws(ClientError) -> Output? {
        guard !isFinished else { return nil }
        while true {
            let frame = try client.nextFrame(of: streamID, what: "\(method) stream", timeoutSeconds: timeoutSeconds)
            switch frame.type {
            case .data:
                if frame.flags.contains(.remoteClosed) { isFinished = true }
                if frame.flags.contains(.noData) {
                    if isFinished { return nil }
                    continue
                }
                do { return try Output(serializedBytes: frame.payload) } catch {
                    throw .protocolViolation("undecodable \(Output.protoMessageName) on \(method): \(error)")
                }
            case .response:
                isFinished = true
                let response: Ttrpc_Response
                do { response = try Ttrpc_Response(serializedBytes: frame.payload) } catch {
                    throw .protocolViolation("undecodable response on \(method): \(error)")
                }
                if let error = RPCError(status: response.status) { throw .rpc(error) }
                return nil
            default:
                continue
            }
        }
    }

    /// Sends one message of the client side (bidirectional streams).
    public func send<Input: SwiftProtobuf.Message>(_ message: Input) throws(ClientError) {
        let bytes: [UInt8]
        do { bytes = try message.serializedBytes() } catch { throw .protocolViolation("cannot encode: \(error)") }
        try client.connection.send(Frame(streamID: streamID, type: .data, payload: bytes))
    }

    /// Half-closes the client side.
    public func closeSend() throws(ClientError) {
        try client.connection.send(Frame(streamID: streamID, type: .data, flags: [.remoteClosed, .noData]))
    }
}
