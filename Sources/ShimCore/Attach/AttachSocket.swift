import CShimSys
import Glibc
import Logging
import ShimSystem
import SystemPackage

/// A process's attach socket, in the wire format of conmon's (podman's
/// ConmonOCIRuntime attaches through it directly): a SOCK_SEQPACKET socket,
/// mode 0700. Each output packet is one byte naming
/// the stream (2 stdout, 3 stderr) and at most 8192 bytes of data; input
/// packets are raw stdin bytes; a client's EOF (shutdown SHUT_WR) closes the
/// process's stdin unless it was created to stay open.
///
/// Where it lives, as conmon does it: the socket file is `<dir>/attach` in a
/// directory of the process (the bundle for the container, the session's
/// directory for an exec), and `<socket-dir>/<name>` is a symlink to that
/// directory, so engines reach it as `<socket-dir>/<name>/attach` — a short
/// path even when the bundle's is not (sun_path holds 107 bytes). With
/// `fullAttach` there is no symlink and the path is `<dir>/attach`. Either
/// way, when the path to bind is too long for sun_path the shim binds through
/// `/proc/self/fd/<dir fd>/attach`, as conmon does today.
///
/// The socket listens from the moment it is made, which may be before the
/// process exists (a front end makes its endpoints before the runtime runs,
/// as conmon does). Its clients are accepted at once, or, with
/// `acceptsBeforeProcess` false, only once the process exists
/// (`startAccepting`): until then they wait in the listen backlog, and if
/// the process never comes (the runtime failed), closing the socket resets
/// them — what a client of conmon sees, which waits for the runtime without
/// serving its socket.
///
/// A client never holds up the process: output a client does not take at
/// once waits in its queue, up to `clientQueueLimit` bytes; past that the
/// client is disconnected (with a warning in the shim's log; the protocol
/// has no way to say it in band).
final class AttachSocket {
    /// Output packets: one stream byte and at most this much data (podman
    /// reads packets into an 8193-byte buffer).
    static let maxPacketData = 8192
    static let clientQueueLimit = 4 << 20
    static let streamStdout: UInt8 = 2
    static let streamStderr: UInt8 = 3

    /// The path engines connect to.
    let path: String
    /// Where the socket file really is.
    private let socketFile: String
    private let symlink: String?
    /// The symlink stays when the socket goes (conmon removes only the
    /// socket, through the link).
    private let linkStays: Bool
    /// nil once the process has exited (no new clients) or closed.
    private var listener: FileDescriptor?
    private let loop: EventLoop
    private let scratch: ScratchBuffer
    private let log: Logger
    private let hub: AttachHub
    private var clients: [FileDescriptor: SocketAttachClient] = [:]
    /// Connections are being accepted (the listener is watched).
    private var accepting = false

    /// Binds and listens. `realDir` holds the socket; `socketDir`/`name`
    /// gets the symlink unless `fullAttach`. Clients are accepted from now
    /// on, or with `acceptsBeforeProcess` false from `startAccepting` on.
    init(realDir: String, socketDir: String, name: String, fullAttach: Bool, linkStays: Bool = false,
         acceptsBeforeProcess: Bool = true,
         hub: AttachHub, loop: EventLoop, scratch: ScratchBuffer, log: Logger) throws(CoreError) {
        self.linkStays = linkStays
        self.hub = hub
        self.loop = loop
        self.scratch = scratch
        self.log = log
        socketFile = FileSystem.join(realDir, "attach")
        if fullAttach {
            symlink = nil
            path = socketFile
        } else {
            let link = FileSystem.join(socketDir, name)
            try Self.makeSymlink(link, to: realDir, socketDir: socketDir)
            symlink = link
            path = FileSystem.join(link, "attach")
        }
        do {
            try? FileSystem.removeFile(socketFile)
            listener = try Self.bind(path: path, realDir: realDir)
        } catch {
            if let symlink { unlink(symlink) }
            throw error
        }
        if acceptsBeforeProcess {
            do throws(SystemError) { try watchListener() } catch {
                close()
                throw .internal("cannot watch the attach socket \(path): \(error)")
            }
        }
        hub.onEnded.append { [weak self] _ in self?.stopListening() }
    }

    private func watchListener() throws(SystemError) {
        guard let listener, !accepting else { return }
        try loop.watch(listener, .readable) { [unowned self] _ in accept() }
        accepting = true
    }

    /// The process exists: clients that connected before it are accepted
    /// now (before its first output is read), later ones as they come.
    func startAccepting() {
        guard listener != nil, !accepting else { return }
        do throws(SystemError) { try watchListener() } catch {
            log.warning("\(hub.label): cannot watch the attach socket \(path): \(error); no more clients")
        }
        accept()
    }

    var clientCount: Int { clients.count }

    /// Calls `body` once no client is connected (at once if none is). After
    /// the exit each client is closed when it has taken the rest of the
    /// output, or after its grace period: a monitor that must not exit
    /// before its clients have their output waits here, without polling.
    func whenDrained(_ body: @escaping () -> Void) {
        if clients.isEmpty { return loop.soon(body) }
        drainedWaiters.append(body)
    }

    private var drainedWaiters: [() -> Void] = []

    /// `<socket-dir>/<name>` -> `realDir`, replacing a stale link or file.
    private static func makeSymlink(_ link: String, to realDir: String, socketDir: String) throws(CoreError) {
        do { try FileSystem.createDirectory(socketDir, mode: 0o700) } catch {
            throw .invalid("cannot create the attach socket directory \(socketDir): \(error)")
        }
        var st = stat()
        if lstat(link, &st) == 0 {
            if st.st_mode & S_IFMT == S_IFDIR {
                throw .precondition("cannot create the attach socket link \(link): a directory is in the way")
            }
            unlink(link)
        }
        if Glibc.symlink(realDir, link) != 0 {
            throw .internal("cannot create the attach socket link \(link) -> \(realDir): \(SystemError("symlink"))")
        }
    }

    /// Binds `path`; when it is longer than sun_path, through an O_PATH fd
    /// of the directory the socket goes into.
    private static func bind(path: String, realDir: String) throws(CoreError) -> FileDescriptor {
        let type = Int32(SOCK_SEQPACKET.rawValue)
        if path.utf8.count <= UnixSocket.maxPathLength {
            do { return try UnixSocket.listen(path: path, type: type, mode: 0o700, backlog: 10) } catch {
                throw .internal("cannot listen on attach socket \(path): \(error)")
            }
        }
        let dirFD = ocishim_open_dir_path(realDir)
        guard dirFD >= 0 else { throw .internal("cannot open the attach socket directory \(realDir): \(SystemError("open"))") }
        defer { Glibc.close(dirFD) }
        do {
            return try UnixSocket.listen(path: "/proc/self/fd/\(dirFD)/attach", type: type, mode: 0o700, backlog: 10)
        } catch {
            throw .internal("cannot listen on attach socket \(path) (bound through /proc/self/fd): \(error)")
        }
    }

    /// Takes every connection already waiting in the backlog. Called when
    /// the process has exited, before its last output is drained: a client
    /// that connected while it ran gets that output even when the monitor
    /// sees the connection and the exit in the same loop turn.
    func acceptWaiting() { accept() }

    private func accept() {
        while let listener {
            let peer: FileDescriptor?
            do { peer = try UnixSocket.accept(listener) } catch {
                log.warning("\(hub.label): attach socket: \(error)")
                return
            }
            guard let peer else { return }
            let client = SocketAttachClient(fd: peer, owner: self, loop: loop)
            clients[peer] = client
            log.debug("\(hub.label): attach socket client \(peer.rawValue) connected")
            client.token = hub.add(client)
            // A client that came after the exit got the end already.
            if clients[peer] != nil { client.updateWatch() }
        }
    }

    /// The process exited: no new clients; current ones get their queued
    /// output, then are closed.
    private func stopListening() {
        guard let listener else { return }
        if accepting { loop.unwatch(listener) }
        accepting = false
        try? listener.close()
        self.listener = nil
    }

    /// Closes everything (clients still waiting to be accepted are reset)
    /// and removes the socket file and the symlink, unless `keepingFiles`:
    /// then both stay where they are, and nothing listens on the file.
    func close(keepingFiles: Bool = false) {
        stopListening()
        for client in Array(clients.values) { drop(client, reason: nil) }
        guard !keepingFiles else { return }
        try? FileSystem.removeFile(socketFile)
        if let symlink, !linkStays { unlink(symlink) }
    }

    // --- clients ------------------------------------------------------------------

    fileprivate func drop(_ client: SocketAttachClient, reason: String?) {
        guard clients.removeValue(forKey: client.fd) != nil else { return }
        client.dropped = true
        client.output.close()
        if let reason { log.warning("\(hub.label): attach socket client \(client.fd.rawValue): \(reason); disconnected") }
        hub.remove(client.token)
        loop.unwatch(client.fd)
        try? client.fd.close()
        if clients.isEmpty && !drainedWaiters.isEmpty {
            let waiters = drainedWaiters
            drainedWaiters = []
            for waiter in waiters { loop.soon(waiter) }
        }
    }

    fileprivate func dropLater(_ client: SocketAttachClient, afterSeconds seconds: Double) {
        loop.schedule(afterSeconds: seconds) { [weak self, weak client] in
            guard let self, let client, !client.dropped else { return }
            drop(client, reason: "did not read the end of the output within \(Int(seconds))s of the exit")
        }
    }

    fileprivate func watch(_ client: SocketAttachClient, _ interest: EventLoop.Interest, readHangup: Bool) {
        do {
            try loop.watch(client.fd, interest, readHangup: readHangup) { [weak client] readiness in
                client?.ready(readiness)
            }
        } catch {
            drop(client, reason: "cannot watch it: \(error)")
        }
    }

    fileprivate var scratchBytes: UnsafeMutableRawBufferPointer { scratch.bytes }
    fileprivate var hubForClients: AttachHub { hub }
    fileprivate var logger: Logger { log }
}

/// One peer of the attach socket.
private final class SocketAttachClient: AttachClient {
    let fd: FileDescriptor
    unowned let owner: AttachSocket
    var token = 0
    /// Input still comes (no EOF yet).
    private var reading = true
    /// Input paused until the process takes what is pending.
    private var paused = false
    /// The process exited: close once the output is written.
    private var ending = false
    private let loop: EventLoop
    /// Output packets the client has not taken yet. The fd is read too, so
    /// EPOLLOUT goes into this client's one watch (`updateWatch`).
    private(set) lazy var output: WriteQueue = {
        let queue = WriteQueue(fd: fd, loop: loop, limit: AttachSocket.clientQueueLimit, framing: .packets,
                               watching: .byOwner { [unowned self] _ in updateWatch() })
        queue.onDrained = { [unowned self] in
            if ending { owner.drop(self, reason: nil) }
        }
        // The peer is gone.
        queue.onFailed = { [unowned self] _, _ in owner.drop(self, reason: nil) }
        return queue
    }()

    init(fd: FileDescriptor, owner: AttachSocket, loop: EventLoop) {
        self.fd = fd
        self.owner = owner
        self.loop = loop
    }

    private var hub: AttachHub { owner.hubForClients }

    func updateWatch() {
        var interest: EventLoop.Interest = []
        if reading && !paused { interest.insert(.readable) }
        if output.isWaitingForWritable { interest.insert(.writable) }
        owner.watch(self, interest, readHangup: reading)
    }

    func ready(_ readiness: EventLoop.Readiness) {
        if output.isWaitingForWritable && readiness.writable { output.flush() }
        guard !dropped else { return }
        if reading && !paused && readiness.readable {
            readInput()
        } else if readiness.hangup {
            // The peer closed (or the socket failed) while we were not
            // reading from it.
            owner.drop(self, reason: nil)
        }
    }

    /// Set by the owner once the fd is closed.
    var dropped = false

    private func readInput() {
        let buffer = owner.scratchBytes
        for _ in 0..<16 {
            let n = recv(fd.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                if let stdin = hub.stdin, hub.acceptsStdin {
                    if !stdin.write(bytes) {
                        owner.logger.warning("\(hub.label): stdin refused \(n) bytes from attach socket client \(fd.rawValue)")
                    }
                    if !stdin.hasRoom {
                        paused = true
                        updateWatch()
                        stdin.whenRoom { [weak self] in self?.resume() }
                        return
                    }
                }
                continue
            }
            if n < 0 && (errno == EINTR) { continue }
            if n < 0 && errno == EAGAIN { return }
            if n < 0 {
                owner.drop(self, reason: nil)
                return
            }
            // EOF: the client is done sending; it may still read output.
            reading = false
            shutdown(fd.rawValue, Int32(SHUT_RD))
            hub.clientClosedStdin()
            updateWatch()
            return
        }
    }

    private func resume() {
        guard paused, !dropped else { return }
        paused = false
        updateWatch()
    }

    // --- output -----------------------------------------------------------------

    /// One packet per `maxPacketData` bytes: the stream byte and the data
    /// gathered straight from the read buffer (copied only if it must wait).
    func attachOutput(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        var id = stream == .stdout ? AttachSocket.streamStdout : AttachSocket.streamStderr
        withUnsafeBytes(of: &id) { head in
            var offset = 0
            while offset < chunk.count && !dropped {
                let end = min(chunk.count, offset + AttachSocket.maxPacketData)
                switch output.append(head, UnsafeRawBufferPointer(rebasing: chunk[offset..<end])) {
                case .accepted:
                    offset = end
                case .overLimit:
                    return owner.drop(self, reason: "not reading its output (\(output.pendingBytes) bytes waiting, limit \(AttachSocket.clientQueueLimit))")
                case .closed:
                    // Its write failed: the client is dropped already.
                    return
                }
            }
        }
    }

    func attachDropped(_ bytes: UInt64) {
        owner.logger.debug("\(hub.label): attach socket client \(fd.rawValue) missed \(bytes) bytes of earlier output")
    }

    func attachEnded(exitCode: Int32) {
        ending = true
        if output.isEmpty { return owner.drop(self, reason: nil) }
        // A client that does not take the rest of the output in time loses it.
        owner.dropLater(self, afterSeconds: 10)
    }
}
