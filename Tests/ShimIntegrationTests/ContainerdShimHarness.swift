import ContainerdProtocol
import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem
import SwiftProtobuf
import XCTest

/// `containerd-shim-ocishim-v1` as containerd runs it, without containerd:
/// `start` in a busybox bundle with TTRPC_ADDRESS pointing at an events
/// service of the test's own (ContainerdEventsRecorder), then the task API
/// over the printed address. Teardown removes every trace: the shim, runc's
/// container (under containerd's runc root for the test's namespace), the
/// socket, the directories.
final class ContainerdShimHarness {
    let namespace: String
    let id: String
    let dir: String
    let bundle: BusyboxBundle
    let events: ContainerdEventsRecorder
    private(set) var address = ""
    private(set) var client: ShimClient?
    private(set) var shimPid: Int32 = 0

    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["OCISHIM_CONTAINERD_BIN"], !path.isEmpty { return path }
        let ocishim = try TestSupport.ocishim()
        let sibling = URL(fileURLWithPath: ocishim).deletingLastPathComponent().appendingPathComponent("containerd-shim-ocishim-v1").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        return try TestSupport.builtProduct("containerd-shim-ocishim-v1", environmentVariable: "OCISHIM_CONTAINERD_BIN")
    }

    var runcRoot: String { "/run/containerd/runc/\(namespace)" }
    var socketPath: String { String(address.dropFirst("unix://".count)) }

    init(_ test: XCTestCase, args: [String], terminal: Bool = false, edit: ((inout [String: Any]) -> Void)? = nil) throws {
        let tag = UUID().uuidString.prefix(8).lowercased()
        namespace = "ocishim-it-\(tag)"
        id = "c-\(tag)"
        dir = try TestSupport.makeTemporaryDirectory(prefix: "ocishim-ctrd", for: test)
        bundle = try BusyboxBundle.make(in: dir, args: args, terminal: terminal, edit: edit)
        events = try ContainerdEventsRecorder(path: dir + "/events.sock")
        test.addTeardownBlock { [self] in teardown() }
    }

    /// Runs the binary as containerd does (in the bundle, TTRPC_ADDRESS
    /// set); returns its exit status, stdout and stderr.
    func runBinary(_ arguments: [String], stdin: Data = Data(), in directory: String? = nil) throws -> (status: Int32, stdout: Data, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? bundle.path)
        var environment = ProcessInfo.processInfo.environment
        environment["TTRPC_ADDRESS"] = events.path
        process.environment = environment
        let input = Foundation.Pipe(), output = Foundation.Pipe(), errors = Foundation.Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
        // containerd reads to EOF: a shim that kept our stdout would hang here.
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, out, String(decoding: err, as: UTF8.self))
    }

    var commonArguments: [String] { ["-namespace", namespace, "-address", dir + "/containerd.sock", "-publish-binary", "/bin/true", "-id", id] }

    /// `start`, then a client on the printed address.
    @discardableResult
    func start() throws -> ShimClient {
        let (status, out, err) = try runBinary(commonArguments + ["start"])
        guard status == 0 else { throw TestSupport.SupportError("start exited \(status): \(err)") }
        address = String(decoding: out, as: UTF8.self)
        let client = try ShimClient.connect(socketPath: socketPath)
        client.timeoutSeconds = 60
        self.client = client
        let connect: Containerd_Task_V2_ConnectResponse = try call("Connect", Containerd_Task_V2_ConnectRequest.with { $0.id = id })
        shimPid = Int32(connect.shimPid)
        return client
    }

    func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, _ request: Request, as: Response.Type = Response.self
    ) throws -> Response {
        guard let client else { throw TestSupport.SupportError("not started") }
        return try client.call(method, request, service: TaskService.name)
    }

    /// The error of a call expected to fail; nil if it succeeded.
    func failure<Request: SwiftProtobuf.Message>(_ method: String, _ request: Request) throws -> RPCError? {
        guard let client else { throw TestSupport.SupportError("not started") }
        let response = try client.callRaw(method, payload: try request.serializedBytes(), service: TaskService.name)
        return RPCError(status: response.status)
    }

    /// FIFOs as ctr makes them (cio): the client's read ends are open
    /// before Create, as ctr opens them.
    func makeFIFO(_ name: String) throws -> String {
        let path = dir + "/" + name
        guard mkfifo(path, 0o600) == 0 else { throw TestSupport.SupportError("mkfifo \(path): \(errno)") }
        return path
    }

    func createRequest(_ edit: (inout Containerd_Task_V2_CreateTaskRequest) -> Void = { _ in }) -> Containerd_Task_V2_CreateTaskRequest {
        var request = Containerd_Task_V2_CreateTaskRequest()
        request.id = id
        request.bundle = bundle.path
        edit(&request)
        return request
    }

    /// An Exec request for `execID` with `spec` (an OCI Process, JSON).
    func execRequest(_ execID: String, spec: String,
                     _ edit: (inout Containerd_Task_V2_ExecProcessRequest) -> Void = { _ in }) -> Containerd_Task_V2_ExecProcessRequest {
        var request = Containerd_Task_V2_ExecProcessRequest()
        request.id = id
        request.execID = execID
        request.spec.typeURL = TypeURL.ociProcess
        request.spec.value = Data(spec.utf8)
        edit(&request)
        return request
    }

    /// Exec (registered, not started).
    func exec(_ execID: String, spec: String, _ edit: (inout Containerd_Task_V2_ExecProcessRequest) -> Void = { _ in }) throws {
        let _: Google_Protobuf_Empty = try call("Exec", execRequest(execID, spec: spec, edit))
    }

    func wait(_ execID: String = "") throws -> Containerd_Task_V2_WaitResponse {
        try call("Wait", Containerd_Task_V2_WaitRequest.with { $0.id = id; $0.execID = execID })
    }

    func state(_ execID: String = "") throws -> Containerd_Task_V2_StateResponse {
        try call("State", Containerd_Task_V2_StateRequest.with { $0.id = id; $0.execID = execID })
    }

    /// Topics of the events received for this container, in order.
    var topics: [String] { events.received.filter { $0.containerID == id }.map(\.topic) }

    /// More container ids this test made in the namespace (grouped ones).
    var otherIDs: [String] = []

    private func teardown() {
        client?.close()
        if shimPid > 0 && kill(shimPid, 0) == 0 { kill(shimPid, SIGKILL) }
        for id in [id] + otherIDs {
            _ = try? TestSupport.run("/usr/sbin/runc", ["--root", runcRoot, "delete", "--force", id])
        }
        try? FileManager.default.removeItem(atPath: runcRoot)
        if !address.isEmpty { try? FileManager.default.removeItem(atPath: socketPath) }
        _ = umount2(bundle.rootfs, Int32(MNT_DETACH))
        events.stop()
    }
}

/// containerd's events service for shims (`containerd.services.events.ttrpc.v1.Events`,
/// Forward) on a Unix socket, recording what it is sent. It can go away and
/// come back (a containerd restart), answering nothing meanwhile.
final class ContainerdEventsRecorder: @unchecked Sendable {
    struct Received: Equatable {
        var namespace: String
        var topic: String
        var containerID: String
        var typeURL: String
        var value: [UInt8]
        var metadataNamespace: String
    }

    let path: String
    private let lock = NSLock()
    private var events: [Received] = []
    private var listener: Int32 = -1
    private var thread: Thread?
    private var peers: [Int32] = []

    init(path: String) throws {
        self.path = path
        try listen()
    }

    var received: [Received] { lock.withLock { events } }

    /// Waits up to `seconds` for an event with `topic` for `containerID`.
    func waitFor(_ topic: String, of containerID: String, seconds: Double = 10) -> Received? {
        var found: Received?
        _ = TestSupport.eventually(seconds) {
            found = received.first { $0.topic == topic && $0.containerID == containerID }
            return found != nil
        }
        return found
    }

    func listen() throws {
        unlink(path)
        let fd = try UnixSocket.listen(path: path, type: Int32(SOCK_STREAM.rawValue), mode: 0o600).rawValue
        // The accept loop is a thread that blocks.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        lock.withLock { listener = fd }
        let thread = Thread { [weak self] in self?.acceptLoop(fd) }
        self.thread = thread
        thread.start()
    }

    /// containerd goes away: the socket and every connection close.
    func stop() {
        let (fd, open) = lock.withLock { () -> (Int32, [Int32]) in
            let state = (listener, peers)
            listener = -1
            peers = []
            return state
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        for peer in open { shutdown(peer, Int32(SHUT_RDWR)) }
        unlink(path)
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let peer = accept(fd, nil, nil)
            guard peer >= 0 else { return }
            lock.withLock { peers.append(peer) }
            Thread { [weak self] in self?.serve(peer) }.start()
        }
    }

    private func serve(_ peer: Int32) {
        defer { close(peer) }
        var decoder = FrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(peer, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            for event in decoder.feed(buffer[0..<n]) {
                guard case .frame(let frame) = event, frame.type == .request,
                      let request = try? Ttrpc_Request(serializedBytes: frame.payload) else { continue }
                var response = Ttrpc_Response()
                if request.service == EventsService.name, request.method == "Forward",
                   let forward = try? Containerd_Services_Events_Ttrpc_V1_ForwardRequest(serializedBytes: [UInt8](request.payload)) {
                    record(forward, metadata: request.metadata)
                } else {
                    response.status = RPCError(.unimplemented, "\(request.service)/\(request.method)").status
                }
                let reply = Frame(streamID: frame.streamID, type: .response, payload: (try? response.serializedBytes()) ?? [])
                let bytes = reply.encoded()
                _ = bytes.withUnsafeBytes { write(peer, $0.baseAddress, $0.count) }
            }
        }
    }

    private func record(_ forward: Containerd_Services_Events_Ttrpc_V1_ForwardRequest, metadata: [Ttrpc_KeyValue]) {
        let envelope = forward.envelope
        let value = [UInt8](envelope.event.value)
        // Every task event carries container_id as field 1.
        let containerID = (try? Containerd_Events_TaskOOM(serializedBytes: value))?.containerID ?? ""
        let received = Received(namespace: envelope.namespace, topic: envelope.topic, containerID: containerID,
                                typeURL: envelope.event.typeURL, value: value,
                                metadataNamespace: metadata.first { $0.key == "containerd-namespace-ttrpc" }?.value ?? "")
        lock.withLock { events.append(received) }
    }
}
