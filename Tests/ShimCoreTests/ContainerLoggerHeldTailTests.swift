import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// The k8s-file log holds the unfinished last line of each stream until the
/// read that completes it (K8sFileSink): lines are split into P records only
/// when they are longer than the hold, not where a read ended. A held tail
/// goes out as a P record at its deadline, at flush and close, and when its
/// line outgrows the hold.
final class ContainerLoggerHeldTailTests: LogTestCase {
    private let stamp = "2026-11-30T09:12:01.123456789+00:00"
    private let capacity = K8sFileSink.holdCapacity
    private let delay = ContainerLogger.flushDelayNanos

    private func record(_ content: String, _ tag: String = "F", _ stream: String = "stdout", stamp: String? = nil) -> String {
        "\(stamp ?? self.stamp) \(stream) \(tag) \(content)\n"
    }

    /// The records of a log file: tag and content.
    private func records(_ name: String = "ctr.log") throws -> [(tag: String, content: String)] {
        try readText(path(name)).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            return (String(fields[2]), fields.count > 3 ? String(fields[3]) : "")
        }
    }

    // --- joining ---------------------------------------------------------------------

    func testALineCutByEveryChunkIsStillOneRecord() throws {
        let logger = try fileLogger()
        for piece in ["a ", "line ", "in ", "five ", "reads\nand the next\n"] { logger.write(.stdout, piece) }
        XCTAssertEqual(try readText(path("ctr.log")), record("a line in five reads") + record("and the next"))
    }

    func testStdoutAndStderrHoldsAreIndependent() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "out-")
        logger.write(.stderr, "err-")
        logger.write(.stdout, "one\nout-")
        logger.write(.stderr, "one\n")
        logger.write(.stdout, "two\n")
        XCTAssertEqual(try readText(path("ctr.log")),
                       record("out-one") + record("err-one", "F", "stderr") + record("out-two"))
    }

    // --- the deadline ------------------------------------------------------------------

    /// A prompt: held, then written as a P record once its deadline passes,
    /// stamped when it is written; the rest of its line follows as F.
    func testATailWithoutNewlineIsWrittenAsPAtItsDeadline() throws {
        let logger = try fileLogger()
        let timer = TestFlushScheduler()
        timer.attach(to: logger)
        logger.write(.stdout, "Password: ")
        XCTAssertEqual(try readText(path("ctr.log")), "")
        XCTAssertEqual(timer.delays, [delay])

        // Early (a timer may fire late, never early; this checks the logger
        // does not trust it): nothing is written, the timer is armed again.
        clock.advance(nanos: delay - 1)
        timer.fire()
        XCTAssertEqual(try readText(path("ctr.log")), "")
        XCTAssertEqual(timer.delays, [delay, 1])

        clock.advance(nanos: 1)
        timer.fire()
        let flushed = "2026-11-30T09:12:01.223456789+00:00"
        XCTAssertEqual(try readText(path("ctr.log")), record("Password: ", "P", stamp: flushed))
        XCTAssertEqual(timer.pendingCount, 0, "a timer armed with nothing held")

        logger.write(.stdout, "hunter2\n", at: logTestTime + 2 * delay)
        XCTAssertEqual(try readText(path("ctr.log")),
                       record("Password: ", "P", stamp: flushed) + record("hunter2", stamp: "2026-11-30T09:12:01.323456789+00:00"))
    }

    /// Output that keeps ending mid-line arms one timer, not one per chunk;
    /// each held tail's deadline counts from its own first byte, so steady
    /// output is never cut by the timer.
    func testSteadyOutputArmsOneTimerAndIsNeverCutByIt() throws {
        let logger = try fileLogger()
        let timer = TestFlushScheduler()
        timer.attach(to: logger)
        logger.write(.stdout, "line 0 start")
        for n in 1...1000 {
            clock.advance(nanos: delay / 4)
            logger.write(.stdout, " end\nline \(n) start")
            if n % 10 == 0 { timer.fire() }
        }
        XCTAssertEqual(timer.delays.first, delay)
        XCTAssertEqual(timer.delays.count, 101, "one timer, armed again each time it fired while a tail was held")
        logger.write(.stdout, " end\n")
        timer.fire()
        XCTAssertEqual(timer.pendingCount, 0)
        let records = try records()
        XCTAssertEqual(records.count, 1001)
        XCTAssertTrue(records.allSatisfy { $0.tag == "F" }, "a line was cut")
        XCTAssertEqual(records.last?.content, "line 1000 start end")
    }

    /// Only the tails that are due go out: the other stream's younger tail
    /// waits for its own deadline, for which the timer is armed again.
    func testTheDeadlineIsPerStream() throws {
        let logger = try fileLogger()
        let timer = TestFlushScheduler()
        timer.attach(to: logger)
        logger.write(.stdout, "old")
        clock.advance(nanos: delay * 3 / 4)
        logger.write(.stderr, "young")
        clock.advance(nanos: delay / 4)
        timer.fire()
        XCTAssertEqual(try records().map { "\($0.tag) \($0.content)" }, ["P old"])
        XCTAssertEqual(timer.delays, [delay, delay * 3 / 4])
        logger.write(.stderr, "er\n")
        XCTAssertEqual(try records().map { "\($0.tag) \($0.content)" }, ["P old", "F younger"])
    }

    /// Without a scheduler the owner drives the deadline with flushDue().
    func testFlushDueWithoutATimer() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "tail")
        logger.flushDue()
        XCTAssertEqual(try readText(path("ctr.log")), "")
        XCTAssertEqual(logger.flushDeadline, clock.monotonic + delay)
        clock.advance(nanos: delay)
        logger.flushDue()
        XCTAssertEqual(try records().map { "\($0.tag) \($0.content)" }, ["P tail"])
        XCTAssertNil(logger.flushDeadline)
    }

    // --- flush, close ------------------------------------------------------------------

    func testFlushWritesTheHeldTailsOfBothStreamsAsP() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "x\nout")
        logger.write(.stderr, "err")
        clock.realtime += 5
        logger.flush()
        let later = "2026-11-30T09:12:01.123456794+00:00"
        let expected = record("x") + record("out", "P", stamp: later) + record("err", "P", "stderr", stamp: later)
        XCTAssertEqual(try readText(path("ctr.log")), expected)
        logger.flush()
        XCTAssertEqual(try readText(path("ctr.log")), expected)
    }

    func testCloseWritesTheHeldTail() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "last words")
        logger.close()
        XCTAssertEqual(try readText(path("ctr.log")), record("last words", "P"))
    }

    // --- lines longer than the hold --------------------------------------------------------

    /// The hold takes the tail up to exactly its capacity; the byte that
    /// does not fit sends it out as P, and the line goes on.
    func testATailThatFillsTheHoldIsWrittenAsPWhenItsLineGoesOn() throws {
        let logger = try fileLogger()
        logger.write(.stdout, String(repeating: "a", count: capacity - 1))
        logger.write(.stdout, "b")
        XCTAssertEqual(try readText(path("ctr.log")), "")
        logger.write(.stdout, "c")
        XCTAssertEqual(try readText(path("ctr.log")), record(String(repeating: "a", count: capacity - 1) + "b", "P"))
        logger.write(.stdout, "\n")
        XCTAssertEqual(try records().map(\.tag), ["P", "F"])
        XCTAssertEqual(try records().last?.content, "c")
    }

    /// A 40 KiB line in 4 KiB reads: records of at most the hold's size
    /// (conmon: ten P records and an F), which join back to the line.
    func testALineLongerThanTheHoldIsSplitIntoRecordsOfAtMostTheHold() throws {
        let logger = try fileLogger()
        let line = Array((0..<(40 << 10)).map { UInt8(ascii: "a") + UInt8($0 % 26) })
        for start in stride(from: 0, to: line.count, by: 4096) {
            logger.write(.stdout, Array(line[start..<min(start + 4096, line.count)]))
        }
        logger.write(.stdout, "\n")
        let records = try records()
        XCTAssertEqual(records.map(\.tag), ["P", "P", "F"])
        XCTAssertTrue(records.allSatisfy { $0.content.utf8.count <= capacity })
        XCTAssertEqual(records.map(\.content).joined(), String(decoding: line, as: UTF8.self))
    }

    /// A line that arrives in one read is one record whatever its length,
    /// and a tail longer than the hold is written at once, as before.
    func testLongLinesWithinOneChunkAreNotHeld() throws {
        let logger = try fileLogger()
        let long = String(repeating: "L", count: 3 * capacity)
        logger.write(.stdout, "\(long)\n\(long)")
        XCTAssertEqual(try readText(path("ctr.log")), record(long) + record(long, "P"))
        logger.write(.stdout, "!\n")
        XCTAssertEqual(try records().map { "\($0.tag) \($0.content.utf8.count)" }, ["F \(3 * capacity)", "P \(3 * capacity)", "F 1"])
    }

    // --- size limit, rotation, reopen ------------------------------------------------------------

    /// The held line counts against the limit when it is written: the file
    /// is rotated before it, and it lands whole in the new file.
    func testAHeldLineIsRotatedIntoTheNewFileWhole() throws {
        // "rNN\n" makes a 49-byte record: two per file.
        let logger = try fileLogger(sizeMax: 100, maxFiles: 1)
        logger.write(.stdout, "r01\nr02\nr")
        XCTAssertEqual(try readText(path("ctr.log")), record("r01") + record("r02"))
        logger.write(.stdout, "0")
        logger.write(.stdout, "3\nr04\nr0")
        logger.write(.stdout, "5\n")
        XCTAssertEqual(try readText(path("ctr.log.1")), record("r03") + record("r04"))
        XCTAssertEqual(try readText(path("ctr.log")), record("r05"))
        XCTAssertNil(logger.writeError)
    }

    /// conmon's start-over (no old files kept) with a held line.
    func testAHeldLineStartsOverIntoAFreshFile() throws {
        let logger = try fileLogger(sizeMax: 100)
        logger.write(.stdout, "r01\nr02\nr0")
        logger.write(.stdout, "3\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("r03"))
        XCTAssertEqual(try FileSystem.list(dir), ["ctr.log"])
    }

    /// A reopen (external rotation) while a tail is held: the whole line
    /// goes to the new file, nothing of it to the old one.
    func testAHeldLineGoesWholeIntoTheReopenedFile() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "before\nhel")
        XCTAssertEqual(rename(path("ctr.log"), path("ctr.log.old")), 0)
        try logger.reopen()
        logger.write(.stdout, "lo\n")
        XCTAssertEqual(try readText(path("ctr.log.old")), record("before"))
        XCTAssertEqual(try readText(path("ctr.log")), record("hello"))
    }

    func testAHeldTailIsWrittenWhenTheLogIsClosedAfterAReopen() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "pending")
        XCTAssertEqual(rename(path("ctr.log"), path("ctr.log.old")), 0)
        try logger.reopen()
        logger.close()
        XCTAssertEqual(try readText(path("ctr.log.old")), "")
        XCTAssertEqual(try readText(path("ctr.log")), record("pending", "P"))
    }

    // --- memory ------------------------------------------------------------------------

    /// The hold buffer exists while a tail is held or output flows, and is
    /// freed when the shim goes idle with nothing held.
    func testTheHoldBufferIsFreedWhenIdleAndEmpty() throws {
        let sink = try K8sFileSink(path: path("ctr.log"), sizeMax: -1, oldFiles: 0, monotonicNanos: { 0 })
        let held = sink.held(.stdout)
        XCTAssertFalse(held.holdsMemory)
        Array("complete\n".utf8).withUnsafeBytes { _ = sink.write(.stdout, $0, timestamp: logTestTime) }
        XCTAssertFalse(held.holdsMemory, "a chunk of whole lines needs no hold")
        Array("tail".utf8).withUnsafeBytes { _ = sink.write(.stdout, $0, timestamp: logTestTime) }
        XCTAssertTrue(held.holdsMemory)
        sink.releaseBuffers()
        XCTAssertTrue(held.holdsMemory, "freed while holding a tail")
        XCTAssertEqual(held.count, 4)
        XCTAssertEqual(sink.flush(.stdout, timestamp: logTestTime), .stored)
        sink.releaseBuffers()
        XCTAssertFalse(held.holdsMemory)
        XCTAssertFalse(sink.held(.stderr).holdsMemory)
        sink.close()
        XCTAssertEqual(try readText(path("ctr.log")), record("complete") + record("tail", "P"))
    }
}
