import Glibc
import ShimSystem
import SystemPackage

/// The journald driver: one native-protocol datagram per record to the
/// journal socket (JournalFields has the fields), behaving as conmon 2.1.6
/// does with libsystemd's sd_journal_sendv:
///
/// - A complete line is one entry whose MESSAGE includes the newline.
/// - A line split across reads is joined: the tail of a chunk without a
///   newline is held (per stream, up to 8192 bytes, conmon's STDIO_BUF_SIZE)
///   and sent with the rest of its line. A tail that does not fit is sent at
///   once with what was held, flagged CONTAINER_PARTIAL_MESSAGE=true, and so
///   is whatever is still held at the end of output.
///
/// Where we differ, on purpose:
/// - A held tail also goes out (partial) when its deadline passes
///   (ContainerLogger.flushDelayNanos), as the k8s-file driver's does:
///   conmon keeps it until the container writes again, so a prompt stays
///   out of the journal for as long as the container waits for input.
/// - The hold buffers exist only while something is held or output flows
///   (HeldTail); an idle shim frees them.
/// - A missing socket is an error the engine sees (writeError), not silence.
/// - A send waits at most 250 ms (`sendTimeoutMicroseconds`) for a journal
///   that does not read, instead of for ever: the shim's one thread also
///   serves attach clients and RPCs. The rest of that chunk is dropped.
/// - A MESSAGE above `messageLimit` goes as several entries, all but the
///   last flagged partial, so that no datagram outgrows the socket buffer.
///
/// The socket is created on the first send, unconnected: every datagram is
/// addressed to the path, so a restarted journald is found again.
final class JournaldSink: LogSink {
    static let heldLineLimit = 8192
    static let messageLimit = 64 * 1024
    static let sendTimeoutMicroseconds = 250_000

    private let socketPath: String
    private var address = sockaddr_un()
    /// nil until the first send, and after close.
    private var socket: FileDescriptor?
    private let fields: JournalFields
    private let heldStdout: HeldTail
    private let heldStderr: HeldTail
    private let datagram = WriteVector(capacity: 8)
    /// MESSAGE's header, then "\n": the batch points into it.
    private let header: UnsafeMutablePointer<UInt8>
    private static let newlineOffset = JournalFields.messageHeaderCapacity

    /// Partial lines carry CONTAINER_PARTIAL_MESSAGE=true (conmon 2.2 can
    /// leave it out).
    private let partialField: Bool

    init(socketPath: String, fields: JournalFields, partialField: Bool = true, monotonicNanos: @escaping () -> Int64) {
        self.partialField = partialField
        self.socketPath = socketPath
        self.fields = fields
        heldStdout = HeldTail(capacity: Self.heldLineLimit, monotonicNanos: monotonicNanos)
        heldStderr = HeldTail(capacity: Self.heldLineLimit, monotonicNanos: monotonicNanos)
        address.sun_family = sa_family_t(AF_UNIX)
        let path = socketPath.utf8
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            // LogConfig.validate() has checked that it fits.
            sunPath.copyBytes(from: path.prefix(sunPath.count - 1))
        }
        header = .allocate(capacity: JournalFields.messageHeaderCapacity + 1)
        header[Self.newlineOffset] = UInt8(ascii: "\n")
    }

    deinit {
        close()
        header.deallocate()
    }

    func write(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer, timestamp: Int64) -> LogSinkOutcome {
        guard chunk.baseAddress != nil, chunk.count > 0 else { return .unchanged }
        var outcome = LogSinkOutcome.unchanged
        var offset = 0
        while offset < chunk.count {
            let (line, complete) = ChunkLines.line(in: chunk, at: offset)
            if !complete {
                let held = held(stream)
                if line.count < Self.heldLineLimit - held.count {
                    held.append(line)
                    return outcome
                }
            }
            if let failure = sendHeld(stream, then: line, partial: !complete) {
                return .failed(message: failure.message, droppedBytes: failure.lost + chunk.count - offset - line.count)
            }
            outcome = .stored
            offset += line.count
        }
        return outcome
    }

    func heldSince(_ stream: LogStream) -> Int64? {
        let held = held(stream)
        return held.isEmpty ? nil : held.since
    }

    /// journald stamps entries itself: `timestamp` is not sent.
    func flush(_ stream: LogStream, timestamp: Int64) -> LogSinkOutcome {
        guard !held(stream).isEmpty else { return .unchanged }
        if let failure = sendHeld(stream, then: UnsafeRawBufferPointer(start: nil, count: 0), partial: true) {
            return .failed(message: failure.message, droppedBytes: failure.lost)
        }
        return .stored
    }

    func reopen() throws(CoreError) {}

    func sync() {}

    func releaseBuffers() {
        heldStdout.release()
        heldStderr.release()
    }

    func close() {
        try? socket?.close()
        socket = nil
    }

    // MARK: - records

    private func held(_ stream: LogStream) -> HeldTail { stream == .stdout ? heldStdout : heldStderr }

    /// Sends what was held for `stream` followed by `line` as one record
    /// (several when above `messageLimit`). The held bytes are gone
    /// afterwards, sent or lost; on failure `lost` counts this record's bytes.
    private func sendHeld(_ stream: LogStream, then line: UnsafeRawBufferPointer,
                          partial: Bool) -> (message: String, lost: Int)? {
        let held = held(stream)
        defer { held.removeAll() }
        return sendSplit(stream, held.bytes, line, partial: partial)
    }

    /// One record of two pieces, split into entries of at most
    /// `messageLimit` bytes (all but the last flagged partial).
    private func sendSplit(_ stream: LogStream, _ held: UnsafeRawBufferPointer, _ line: UnsafeRawBufferPointer,
                           partial: Bool) -> (message: String, lost: Int)? {
        var first = held
        var second = line
        while first.count + second.count > Self.messageLimit {
            let fromFirst = min(first.count, Self.messageLimit)
            let fromSecond = Self.messageLimit - fromFirst
            if let error = send(stream, UnsafeRawBufferPointer(rebasing: first[..<fromFirst]),
                                UnsafeRawBufferPointer(rebasing: second[..<fromSecond]), partial: true) {
                return (error, first.count + second.count)
            }
            first = UnsafeRawBufferPointer(rebasing: first[fromFirst...])
            second = UnsafeRawBufferPointer(rebasing: second[fromSecond...])
        }
        if let error = send(stream, first, second, partial: partial) {
            return (error, first.count + second.count)
        }
        return nil
    }

    /// One datagram: MESSAGE (the two pieces joined), the fixed fields, the
    /// partial flag. Returns the error text on failure.
    private func send(_ stream: LogStream, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
                      partial: Bool) -> String? {
        let length = first.count + second.count
        // A complete line ends in a newline: binary form without a scan.
        let binary = !partial || JournalFields.needsBinaryForm(first, second)
        let headerLength = JournalFields.writeMessageHeader(length: length, binary: binary, into: header)
        let fixed = fields.fixedFields(stream)
        return fixed.withUnsafeBytes { fixedBytes in
            JournalFields.partialFlag.withUnsafeBytes { flag in
                datagram.removeAll()
                datagram.append(UnsafeRawBufferPointer(start: header, count: headerLength))
                datagram.append(first)
                datagram.append(second)
                datagram.append(UnsafeRawBufferPointer(start: header + Self.newlineOffset, count: 1))
                datagram.append(fixedBytes)
                if partial && partialField { datagram.append(flag) }
                return sendDatagram()
            }
        }
    }

    private func sendDatagram() -> String? {
        defer { datagram.removeAll() }
        if socket == nil, let error = openSocket() { return error }
        guard let socket else { return nil }
        let failure: Errno? = withUnsafeMutablePointer(to: &address) { addressPointer in
            datagram.withSegments { segments, count in
                var message = msghdr()
                message.msg_name = UnsafeMutableRawPointer(addressPointer)
                message.msg_namelen = socklen_t(MemoryLayout<sockaddr_un>.size)
                message.msg_iov = segments
                message.msg_iovlen = count
                while true {
                    if sendmsg(socket.rawValue, &message, Int32(MSG_NOSIGNAL)) >= 0 { return nil }
                    if errno != EINTR { return Errno(rawValue: errno) }
                }
            }
        }
        return failure.map { SystemError("send to journald at \(socketPath)", errno: $0).description }
    }

    private func openSocket() -> String? {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return SystemError("socket for journald").description }
        // As libsystemd: a large send buffer so that bursts queue in the
        // kernel rather than block (the kernel caps it at wmem_max).
        var bufferSize: Int32 = 8 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: Self.sendTimeoutMicroseconds)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        socket = FileDescriptor(rawValue: fd)
        return nil
    }
}
