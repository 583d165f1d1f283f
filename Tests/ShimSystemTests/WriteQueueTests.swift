import Glibc
import SystemPackage
import XCTest
@testable import ShimSystem

/// WriteQueue against real pipes and sockets: the kernel's buffers are the
/// slow reader.
final class WriteQueueTests: XCTestCase {
    private var fds: [FileDescriptor] = []
    /// F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7), hidden behind _GNU_SOURCE.
    private static let setPipeSize: Int32 = 1031

    override func setUp() {
        // The test process ignores SIGPIPE like the shim: a write to a pipe
        // without a reader must fail with EPIPE, not kill the test.
        signal(SIGPIPE, SIG_IGN)
    }

    override func tearDown() {
        for fd in fds { try? fd.close() }
        fds = []
    }

    /// A pipe with a non-blocking write end, `size` bytes of buffer.
    private func pipe(size: Int32 = 4096) throws -> (read: FileDescriptor, write: FileDescriptor) {
        let (r, w) = try Pipe.make()
        fds += [r, w]
        XCTAssertGreaterThanOrEqual(fcntl(w.rawValue, Self.setPipeSize, size), size)
        _ = fcntl(w.rawValue, F_SETFL, fcntl(w.rawValue, F_GETFL) | O_NONBLOCK)
        return (r, w)
    }

    private func socketPair(_ type: __socket_type) throws -> (FileDescriptor, FileDescriptor) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError("socketpair")
        }
        fds += pair.map(FileDescriptor.init(rawValue:))
        for fd in pair { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return (FileDescriptor(rawValue: pair[0]), FileDescriptor(rawValue: pair[1]))
    }

    /// Writes directly until the fd takes no more; returns how much it took.
    private func fill(_ fd: FileDescriptor) -> Int {
        let chunk = [UInt8](repeating: 0xEE, count: 4096)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd.rawValue, $0.baseAddress, $0.count) }
            if n <= 0 { return total }
            total += n
        }
    }

    /// Reads what is there now (the read end is blocking: ask FIONREAD first).
    private func readAvailable(_ fd: FileDescriptor, max: Int = .max) -> [UInt8] {
        var available: Int32 = 0
        _ = ioctl(fd.rawValue, UInt(FIONREAD), &available)
        let count = min(Int(available), max)
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { read(fd.rawValue, $0.baseAddress, count) }
        return Array(bytes[0..<Swift.max(0, n)])
    }

    private func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31 &+ seed) % 251) }
    }

    func testWhatTheFdDoesNotTakeWaitsAndGoesOutInOrderThroughTheLoop() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe()
        let queue = WriteQueue(fd: w, loop: loop, limit: 1 << 20)
        var drained = 0
        queue.onDrained = { drained += 1 }
        let sent = pattern(20_000)
        XCTAssertEqual(sent.withUnsafeBytes { queue.append($0) }, .accepted)
        XCTAssertGreaterThan(queue.pendingBytes, 0, "a 4 KiB pipe cannot take 20,000 bytes")
        XCTAssertLessThan(queue.pendingBytes, sent.count, "the first write should have taken what fit")
        XCTAssertTrue(queue.isWaitingForWritable)
        XCTAssertTrue(loop.isWatching(w))

        var received: [UInt8] = []
        try loop.watch(r, .readable) { [unowned self] _ in received += readAvailable(r) }
        XCTAssertTrue(loop.run(until: { received.count == sent.count }, timeoutNanos: 5_000_000_000))
        XCTAssertEqual(received, sent)
        XCTAssertEqual(drained, 1)
        XCTAssertEqual(queue.pendingBytes, 0)
        XCTAssertFalse(queue.isWaitingForWritable)
        XCTAssertFalse(loop.isWatching(w), "EPOLLOUT is watched only while bytes wait")
        XCTAssertEqual(queue.bufferCapacity, 0, "a drained queue holds no buffer")
    }

    func testAFullFdQueuesEverythingThenDrains() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe()
        let filler = fill(w)
        let queue = WriteQueue(fd: w, loop: loop, limit: 1 << 20)
        var drained = 0
        queue.onDrained = { drained += 1 }
        let sent = pattern(100, seed: 7)
        XCTAssertEqual(sent.withUnsafeBytes { queue.append($0) }, .accepted)
        XCTAssertEqual(queue.pendingBytes, 100, "EAGAIN: all of it waits")
        XCTAssertTrue(loop.isWatching(w))
        loop.turn(maxWaitMillis: 0)
        XCTAssertEqual(queue.pendingBytes, 100, "still full: nothing written, no drain")
        XCTAssertEqual(drained, 0)

        let first = readAvailable(r)
        XCTAssertEqual(first.count, filler)
        XCTAssertTrue(loop.run(until: { drained == 1 }, timeoutNanos: 5_000_000_000))
        XCTAssertEqual(readAvailable(r), sent)
        XCTAssertFalse(loop.isWatching(w))
        XCTAssertEqual(queue.bufferCapacity, 0)
    }

    func testTheLimitRefusesWhatWouldPassItAndTheQueueGoesOn() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe()
        let filler = fill(w)
        let queue = WriteQueue(fd: w, loop: loop, limit: 1000)
        let a = pattern(600, seed: 1), b = pattern(500, seed: 2), c = pattern(400, seed: 3)
        XCTAssertEqual(a.withUnsafeBytes { queue.append($0) }, .accepted)
        XCTAssertEqual(b.withUnsafeBytes { queue.append($0) }, .overLimit)
        XCTAssertEqual(queue.pendingBytes, 600, "a refused append queues nothing")
        XCTAssertFalse(queue.isClosed)
        XCTAssertEqual(c.withUnsafeBytes { queue.append($0) }, .accepted, "up to the limit exactly")
        XCTAssertEqual(queue.pendingBytes, 1000)

        XCTAssertEqual(readAvailable(r).count, filler)
        XCTAssertTrue(loop.run(until: { queue.isEmpty }, timeoutNanos: 5_000_000_000))
        XCTAssertEqual(readAvailable(r), a + c)
    }

    func testCloseWhilePendingDropsItAndStopsWatching() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe()
        let filler = fill(w)
        let queue = WriteQueue(fd: w, loop: loop, limit: 1 << 20)
        var callbacks = 0
        queue.onDrained = { callbacks += 1 }
        queue.onFailed = { _, _ in callbacks += 1 }
        XCTAssertEqual(pattern(100).withUnsafeBytes { queue.append($0) }, .accepted)
        queue.close()
        XCTAssertTrue(queue.isClosed)
        XCTAssertEqual(queue.pendingBytes, 0)
        XCTAssertEqual(queue.bufferCapacity, 0)
        XCTAssertFalse(loop.isWatching(w))
        XCTAssertEqual(pattern(10).withUnsafeBytes { queue.append($0) }, .closed)

        XCTAssertEqual(readAvailable(r).count, filler)
        loop.turn(maxWaitMillis: 20)
        XCTAssertEqual(readAvailable(r), [], "nothing queued before close is written after it")
        XCTAssertEqual(callbacks, 0)
    }

    func testAReaderThatGoesAwayFailsTheQueueWithEPIPE() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe()
        _ = fill(w)
        let queue = WriteQueue(fd: w, loop: loop, limit: 1 << 20)
        var failures: [(Errno, Int)] = []
        queue.onFailed = { failures.append(($0, $1)) }
        XCTAssertEqual(pattern(100).withUnsafeBytes { queue.append($0) }, .accepted)
        close(r.rawValue)
        fds.removeAll { $0 == r }
        // The pipe reports EPOLLERR to the writer; the queue writes and fails.
        XCTAssertTrue(loop.run(until: { !failures.isEmpty }, timeoutNanos: 5_000_000_000))
        XCTAssertEqual(failures.map(\.0), [.brokenPipe])
        XCTAssertEqual(failures.map(\.1), [100], "the bytes dropped unwritten")
        XCTAssertTrue(queue.isClosed)
        XCTAssertFalse(loop.isWatching(w))
        XCTAssertEqual(pattern(1).withUnsafeBytes { queue.append($0) }, .closed)
        XCTAssertEqual(failures.count, 1, "reported once")
    }

    func testAnAppendToAGoneReaderFailsAtOnce() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe()
        close(r.rawValue)
        fds.removeAll { $0 == r }
        let queue = WriteQueue(fd: w, loop: loop, limit: 1 << 20)
        var failures: [Errno] = []
        queue.onFailed = { error, _ in failures.append(error) }
        XCTAssertEqual(pattern(10).withUnsafeBytes { queue.append($0) }, .closed)
        XCTAssertEqual(failures, [.brokenPipe])
        XCTAssertFalse(loop.isWatching(w))
    }

    /// A reader that never quite catches up: the queue never drains, so only
    /// compaction keeps the written front from piling up.
    func testMemoryFollowsWhatWaitsNotWhatWasEverWritten() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe(size: 64 << 10)
        let queue = WriteQueue(fd: w, loop: loop, limit: 256 << 10)
        let chunk = pattern(16 << 10)
        XCTAssertEqual(pattern(80 << 10).withUnsafeBytes { queue.append($0) }, .accepted)
        XCTAssertGreaterThan(queue.pendingBytes, 0)
        var largest = 0
        for _ in 0..<200 {
            XCTAssertEqual(chunk.withUnsafeBytes { queue.append($0) }, .accepted)
            XCTAssertFalse(readAvailable(r, max: chunk.count).isEmpty)
            queue.flush()
            XCTAssertGreaterThan(queue.pendingBytes, 0, "the reader must stay behind for this test")
            largest = max(largest, queue.bufferCapacity)
        }
        // 200 rounds wrote 3.2 MB through the queue.
        XCTAssertLessThanOrEqual(largest, 2 * queue.limit, "the buffer grew with what was written, not with what waits")
    }

    func testBytesGivenBeforeTheFdExistsGoOutOnConnect() throws {
        let loop = try EventLoop()
        let (r, w) = try pipe()
        let queue = WriteQueue(loop: loop, limit: 1 << 20)
        var drained = 0
        queue.onDrained = { drained += 1 }
        let sent = pattern(300)
        XCTAssertEqual(sent.withUnsafeBytes { queue.append($0) }, .accepted)
        XCTAssertEqual(queue.pendingBytes, 300)
        XCTAssertFalse(queue.isWaitingForWritable, "no fd to watch yet")
        queue.connect(w)
        XCTAssertEqual(queue.pendingBytes, 0)
        XCTAssertEqual(drained, 1)
        XCTAssertEqual(readAvailable(r), sent)
    }

    /// SOCK_SEQPACKET, as conmon's attach socket: every append is one
    /// packet, head and body together, also when it had to wait.
    func testPacketsKeepTheirBoundariesWhetherSentAtOnceOrLater() throws {
        let loop = try EventLoop()
        let (a, b) = try socketPair(SOCK_SEQPACKET)
        var interest: [Bool] = []
        let queue = WriteQueue(fd: a, loop: loop, limit: 16 << 20, framing: .packets,
                               watching: .byOwner { interest.append($0) })
        var sent: [[UInt8]] = []
        var round = 0
        while queue.isEmpty || queue.pendingBytes < 64 << 10 {
            let head: [UInt8] = [UInt8(round % 2 + 2)]
            let body = pattern(1 + round % 8192, seed: round)
            let result = head.withUnsafeBytes { h in body.withUnsafeBytes { queue.append(h, $0) } }
            XCTAssertEqual(result, .accepted)
            sent.append(head + body)
            round += 1
        }
        XCTAssertEqual(interest, [true], "the owner is asked to watch EPOLLOUT once")
        XCTAssertFalse(loop.isWatching(a), "an owner-watched fd gets no watch from the queue")

        var received: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 8193)
        while received.count < sent.count {
            let n = buffer.withUnsafeMutableBytes { recv(b.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                received.append(Array(buffer[0..<n]))
            } else {
                XCTAssertEqual(errno, EAGAIN)
                if queue.isEmpty { XCTFail("packets lost: \(received.count) of \(sent.count)"); break }
                queue.flush()  // what the owner does on EPOLLOUT
            }
        }
        XCTAssertEqual(received.count, sent.count)
        XCTAssertTrue(received == sent, "packets split, merged or reordered")
        XCTAssertEqual(interest, [true, false])
        XCTAssertEqual(queue.bufferCapacity, 0)
    }

    /// A stream socket the owner also reads: a header and a body in one
    /// gathered write, the unwritten rest of either queued.
    func testHeadAndBodyGoOutAsOneStreamPiece() throws {
        let loop = try EventLoop()
        let (a, b) = try socketPair(SOCK_STREAM)
        var interest: [Bool] = []
        let queue = WriteQueue(fd: a, loop: loop, limit: 64 << 20, watching: .byOwner { interest.append($0) })
        var sent: [UInt8] = []
        for round in 0..<64 {
            let head = pattern(10, seed: round)
            let body = pattern(16 << 10, seed: round + 100)
            XCTAssertEqual(head.withUnsafeBytes { h in body.withUnsafeBytes { queue.append(h, $0) } }, .accepted)
            sent += head + body
        }
        XCTAssertGreaterThan(queue.pendingBytes, 0, "1 MiB should not fit a socket buffer")
        var received: [UInt8] = []
        while received.count < sent.count {
            let more = readAvailable(b)
            if more.isEmpty {
                if queue.isEmpty { XCTFail("bytes lost: \(received.count) of \(sent.count)"); break }
                queue.flush()
            }
            received += more
        }
        XCTAssertTrue(received == sent)
        XCTAssertEqual(interest, [true, false])
    }
}
