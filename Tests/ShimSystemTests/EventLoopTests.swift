import Glibc
import XCTest
@testable import ShimSystem

final class EventLoopTests: XCTestCase {
    func testTimersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        loop.schedule(afterNanos: 30_000_000) { fired.append("30ms") }
        let cancelled = loop.schedule(afterNanos: 10_000_000) { fired.append("cancelled") }
        loop.schedule(afterNanos: 5_000_000) { fired.append("5ms") }
        loop.cancel(cancelled)
        XCTAssertTrue(loop.run(until: { fired.count == 2 }, timeoutNanos: 2_000_000_000))
        XCTAssertEqual(fired, ["5ms", "30ms"])
    }

    func testSoonRunsBeforeWaiting() throws {
        let loop = try EventLoop()
        var order: [Int] = []
        loop.soon { order.append(1); loop.soon { order.append(3) } }
        loop.soon { order.append(2) }
        loop.turn(maxWaitMillis: 0)
        XCTAssertEqual(order, [1, 2, 3])
    }

    func testReadableFdCallsItsHandlerAndUnwatchStopsIt() throws {
        let loop = try EventLoop()
        let (r, w) = try Pipe.make()
        defer { close(r); close(w) }
        var reads = 0
        try loop.watch(r, .readable) { _ in
            var b: UInt8 = 0
            _ = read(r, &b, 1)
            reads += 1
        }
        var byte: UInt8 = 1
        _ = write(w, &byte, 1)
        XCTAssertTrue(loop.run(until: { reads == 1 }, timeoutNanos: 1_000_000_000))
        loop.unwatch(r)
        _ = write(w, &byte, 1)
        loop.turn(maxWaitMillis: 20)
        XCTAssertEqual(reads, 1)
        XCTAssertEqual(loop.watchedCount, 0)
    }

    func testRegularFilesCannotBeWatched() throws {
        let loop = try EventLoop()
        let fd = open("/proc/self/status", O_RDONLY)
        defer { close(fd) }
        XCTAssertThrowsError(try loop.watch(fd, .readable) { _ in })
    }
}
