import Glibc
import SystemPackage

/// Output to a non-blocking fd for a loop that must never wait on a reader:
/// what the fd takes at once is written at once, the rest waits here and
/// goes out when epoll reports the fd writable. EPOLLOUT is watched only
/// while something waits (a writable fd would otherwise wake the loop on
/// every turn).
///
/// The queue holds no memory while nothing waits: an append the fd takes
/// whole is written straight from the caller's memory (a header and a body
/// gathered into one writev or sendmsg, nothing copied or allocated), and
/// the buffer of waiting bytes is freed as soon as it drains, so an idle
/// shim holds none. While a slow reader keeps some bytes waiting, the
/// written front of the buffer is dropped once it is as large as the rest,
/// so the buffer stays within about twice `limit` however long it lasts.
///
/// The policy stays with the owner: the queue refuses what would take it
/// past `limit` (`.overLimit`, nothing queued) and reports a failed write
/// (`onFailed`); whether that disconnects a client, refuses input or is only
/// logged is the owner's call. The fd is the owner's too: the queue never
/// closes it; call `close()` before closing the fd, so that the queue stops
/// watching and writing a number the kernel may hand out again.
public final class WriteQueue {
    /// How appended bytes map to writes.
    public enum Framing: Sendable {
        /// A byte stream (pipe, pty, stream socket): bytes go out in order; a
        /// short write continues where it stopped.
        case stream
        /// A packet socket (SOCK_SEQPACKET): each append is one packet, sent
        /// whole with one sendmsg or kept whole, never split or merged.
        case packets
    }

    /// Who watches the fd for EPOLLOUT. The loop keeps one watch per fd
    /// number, so an fd its owner also reads (a socket) cannot have a second
    /// watch for the queue.
    public enum Watching {
        /// The queue watches the fd, which nobody else watches (a pipe's
        /// write end, a duplicate of a pty master).
        case byQueue
        /// The owner, who watches the fd already: the queue calls this with
        /// true when it starts waiting for EPOLLOUT and false when it stops;
        /// the owner adds `.writable` to its watch meanwhile and calls
        /// `flush()` when epoll reports it.
        case byOwner((Bool) -> Void)
    }

    public enum AppendResult: Equatable, Sendable {
        /// Written, or queued to be written.
        case accepted
        /// Refused, nothing queued: pending bytes would exceed `limit`. The
        /// queue goes on; what to do about a reader that far behind is the
        /// owner's call.
        case overLimit
        /// Refused: the queue is closed (`close()`, or a write failed).
        case closed
    }

    /// Most bytes that may wait.
    public let limit: Int
    public let framing: Framing
    /// nil until `connect`.
    public private(set) var fd: FileDescriptor?
    /// Closed by `close()` or by a failed write: appends are refused.
    public private(set) var isClosed = false
    /// Something waits for the fd to become writable.
    public private(set) var isWaitingForWritable = false

    /// Called each time waiting bytes have all been written (not for an
    /// append the fd took whole). The owner may close the queue from here.
    public var onDrained: (() -> Void)?
    /// Called once when a write fails for good (EPIPE: the reader is gone),
    /// with the error and how many bytes were dropped unwritten. The queue
    /// is closed by then; the fd is the owner's to close (and with
    /// `.byOwner`, its EPOLLOUT watch the owner's to take down).
    public var onFailed: ((Errno, Int) -> Void)?

    private let loop: EventLoop
    private let watching: Watching
    /// Waiting bytes are `buffer[start...]`.
    private var buffer: [UInt8] = []
    private var start = 0
    /// `.packets`: the lengths of the waiting packets, from `firstPacket`.
    private var packetLengths: [Int] = []
    private var firstPacket = 0

    /// `fd` must be non-blocking. nil: not yet known; appends wait until
    /// `connect`.
    public init(fd: FileDescriptor? = nil, loop: EventLoop, limit: Int, framing: Framing = .stream, watching: Watching = .byQueue) {
        precondition(limit > 0, "WriteQueue limit \(limit)")
        self.fd = fd
        self.loop = loop
        self.limit = limit
        self.framing = framing
        self.watching = watching
    }

    public var pendingBytes: Int { buffer.count - start }
    public var isEmpty: Bool { pendingBytes == 0 }
    /// Bytes the queue holds allocated (tests: memory follows what waits).
    var bufferCapacity: Int { buffer.capacity }

    /// Gives a queue made before its fd existed the fd, and writes what has
    /// waited for it.
    public func connect(_ fd: FileDescriptor) {
        guard self.fd == nil, !isClosed else { return }
        self.fd = fd
        flush()
    }

    /// Writes `bytes`, or queues what the fd does not take now.
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) -> AppendResult {
        append(bytes, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Writes `head` then `body` as one piece (one packet with `.packets`),
    /// gathered without copying; queues what the fd does not take now.
    @discardableResult
    public func append(_ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer) -> AppendResult {
        guard !isClosed else { return .closed }
        let total = head.count + body.count
        guard total > 0 else { return .accepted }
        guard pendingBytes + total <= limit else { return .overLimit }
        var written = 0
        if isEmpty && fd != nil {
            switch writeNow(head, body) {
            case .wrote(let n):
                if n == total { return .accepted }
                written = n
            case .wouldBlock:
                break
            case .failed(let error):
                fail(error)
                return .closed
            }
        }
        enqueue(head, body, skipping: written)
        waitForWritable()
        return isClosed ? .closed : .accepted
    }

    /// Writes what waits, as far as the fd takes it. The queue calls this
    /// itself on EPOLLOUT; owners that watch the fd (`.byOwner`) call it
    /// when epoll reports the fd writable.
    public func flush() {
        guard !isClosed, fd != nil, !isEmpty else { return }
        while !isEmpty {
            let outcome = buffer.withUnsafeBytes { bytes in
                let waiting = UnsafeRawBufferPointer(rebasing: bytes[start...])
                switch framing {
                case .stream: return writeNow(waiting, UnsafeRawBufferPointer(start: nil, count: 0))
                case .packets: return writeNow(UnsafeRawBufferPointer(rebasing: waiting[..<packetLengths[firstPacket]]),
                                               UnsafeRawBufferPointer(start: nil, count: 0))
                }
            }
            switch outcome {
            case .wrote(let n):
                start += n
                if framing == .packets { firstPacket += 1 }
            case .wouldBlock:
                return waitForWritable()
            case .failed(let error):
                return fail(error)
            }
        }
        releaseBuffer()
        stopWaitingForWritable()
        onDrained?()
    }

    /// Drops what waits and stops watching; later appends are refused. Call
    /// before closing the fd. An owner that watches the fd (`.byOwner`) is
    /// not called back: it is closing, or failing, and takes its watch down.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        releaseBuffer()
        if isWaitingForWritable, case .byQueue = watching, let fd { loop.unwatch(fd) }
        isWaitingForWritable = false
        onDrained = nil
        onFailed = nil
    }

    // --- writing ----------------------------------------------------------------

    private enum WriteOutcome {
        /// This many bytes went out (for a packet, all of it).
        case wrote(Int)
        case wouldBlock
        case failed(Errno)
    }

    /// One piece, `head` then `body`, for as long as the fd takes it.
    private func writeNow(_ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer) -> WriteOutcome {
        guard let fd else { return .wouldBlock }
        let total = head.count + body.count
        var written = 0
        while written < total {
            let n = withPieces(head, body, skipping: written) { pieces, count -> Int in
                switch framing {
                case .stream:
                    return writev(fd.rawValue, pieces, Int32(count))
                case .packets:
                    var message = msghdr()
                    message.msg_iov = pieces
                    message.msg_iovlen = count
                    return sendmsg(fd.rawValue, &message, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
                }
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return written > 0 ? .wrote(written) : .wouldBlock }
                return .failed(Errno(rawValue: errno))
            }
            // A packet goes out whole or not at all.
            if framing == .packets { return .wrote(total) }
            // No progress on a non-blocking fd that is not full: a device that
            // takes no data; waiting for EPOLLOUT would spin.
            if n == 0 { return .failed(.ioError) }
            written += n
        }
        return .wrote(written)
    }

    /// The unwritten part of `head` + `body` as up to two iovecs on the stack.
    private func withPieces(_ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer, skipping skip: Int,
                            _ write: (UnsafeMutablePointer<iovec>, Int) -> Int) -> Int {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { pieces in
            var count = 0
            func add(_ part: UnsafeRawBufferPointer, from offset: Int) {
                guard let base = part.baseAddress, part.count > offset else { return }
                pieces[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + offset), iov_len: part.count - offset)
                count += 1
            }
            add(head, from: min(skip, head.count))
            add(body, from: max(0, skip - head.count))
            return write(pieces.baseAddress!, count)
        }
    }

    // --- the buffer -------------------------------------------------------------

    private func enqueue(_ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer, skipping skip: Int) {
        compact()
        if skip < head.count { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: head[skip...])) }
        let bodySkip = max(0, skip - head.count)
        if bodySkip < body.count { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[bodySkip...])) }
        if framing == .packets { packetLengths.append(head.count + body.count) }
    }

    /// Drops the written front once it is at least as large as what waits:
    /// each byte is moved at most once on average, and a reader that never
    /// quite catches up does not make the buffer grow without end.
    private func compact() {
        if start > 0 && start >= pendingBytes {
            buffer.removeSubrange(..<start)
            start = 0
        }
        if firstPacket > 0 && firstPacket >= packetLengths.count - firstPacket {
            packetLengths.removeSubrange(..<firstPacket)
            firstPacket = 0
        }
    }

    /// Nothing waits: the memory goes back (an idle shim holds none).
    private func releaseBuffer() {
        buffer = []
        start = 0
        packetLengths = []
        firstPacket = 0
    }

    // --- EPOLLOUT -------------------------------------------------------------

    private func waitForWritable() {
        guard !isWaitingForWritable, !isClosed, let fd else { return }
        switch watching {
        case .byQueue:
            do {
                try loop.watch(fd, .writable, readHangup: false) { [unowned self] _ in flush() }
            } catch {
                return fail(error.errno)
            }
            isWaitingForWritable = true
        case .byOwner(let interest):
            isWaitingForWritable = true
            interest(true)
        }
    }

    private func stopWaitingForWritable() {
        guard isWaitingForWritable else { return }
        isWaitingForWritable = false
        switch watching {
        case .byQueue: if let fd { loop.unwatch(fd) }
        case .byOwner(let interest): interest(false)
        }
    }

    /// A write failed: nothing more can reach the reader.
    private func fail(_ error: Errno) {
        let dropped = pendingBytes
        let report = onFailed
        close()
        report?(error, dropped)
    }
}
