import XCTest
@testable import ShimCore

final class EventLogTests: XCTestCase {
    func testSequenceNumbersReplayAndSubscribers() {
        let log = EventLog()
        var live: [UInt64] = []
        let token = log.subscribe { live.append($0.seq) }
        log.emit(.created, containerID: "c", timestamp: 1)
        log.emit(.started, containerID: "c", timestamp: 2)
        log.unsubscribe(token)
        log.emit(.exited, containerID: "c", timestamp: 3) { $0.exitCode = 3 }
        XCTAssertEqual(live, [1, 2])
        XCTAssertEqual(log.events(after: 1).map(\.kind), [.started, .exited])
        XCTAssertEqual(log.events(after: 0).last?.exitCode, 3)
        XCTAssertEqual(log.subscriberCount, 0)
    }

    func testAFloodOfLogErrorsNeverPushesOutTheExit() {
        let log = EventLog(retainLimit: 8)
        log.emit(.created, containerID: "c", timestamp: 0)
        log.emit(.exited, containerID: "c", timestamp: 0) { $0.exitCode = 137 }
        for i in 0..<100 { log.emit(i % 2 == 0 ? .logError : .logResumed, containerID: "c", timestamp: Int64(i)) }
        XCTAssertEqual(log.retained.count, 8)
        XCTAssertEqual(log.retained.prefix(2).map(\.kind), [.created, .exited])
        XCTAssertEqual(log.lastSeq, 102)
        XCTAssertEqual(log.retained.last?.seq, 102, "the newest events are the ones kept")
    }
}
