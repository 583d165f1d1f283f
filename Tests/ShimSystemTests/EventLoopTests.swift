import Glibc
import SystemPackage
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

    /// Delays come from clients; the largest ones must saturate, not trap.
    func testExtremeDelaysNeverTrapAndNeverFire() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        loop.schedule(afterNanos: Int64.max) { fired.append("max nanos") }
        loop.schedule(afterNanos: Int64.min) { fired.append("min nanos") }
        loop.schedule(afterSeconds: .infinity) { fired.append("infinity") }
        loop.schedule(afterSeconds: 1e300) { fired.append("1e300") }
        loop.schedule(afterSeconds: .nan) { fired.append("nan") }
        loop.schedule(afterSeconds: -1) { fired.append("negative") }
        XCTAssertTrue(loop.run(until: { fired.count == 3 }, timeoutNanos: 2_000_000_000))
        XCTAssertEqual(Set(fired), ["min nanos", "nan", "negative"])
        XCTAssertFalse(loop.run(until: { fired.count > 3 }, timeoutNanos: 50_000_000))
        var done = false
        loop.schedule(afterNanos: 1_000_000) { done = true }
        XCTAssertTrue(loop.run(until: { done }, timeoutNanos: Int64.max), "an endless wait that ends by its condition")
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
        defer { try? r.close(); try? w.close() }
        var reads = 0
        try loop.watch(r, .readable) { _ in
            var b: UInt8 = 0
            _ = read(r.rawValue, &b, 1)
            reads += 1
        }
        var byte: UInt8 = 1
        _ = write(w.rawValue, &byte, 1)
        XCTAssertTrue(loop.run(until: { reads == 1 }, timeoutNanos: 1_000_000_000))
        loop.unwatch(r)
        _ = write(w.rawValue, &byte, 1)
        loop.turn(maxWaitMillis: 20)
        XCTAssertEqual(reads, 1)
        XCTAssertEqual(loop.watchedCount, 0)
    }

    func testRegularFilesCannotBeWatched() throws {
        let loop = try EventLoop()
        let fd = open("/proc/self/status", O_RDONLY)
        defer { close(fd) }
        XCTAssertThrowsError(try loop.watch(FileDescriptor(rawValue: fd), .readable) { _ in })
    }

    /// A loop with `idleDelayMillis` = `delay` that counts its idle reports,
    /// woken by a byte on a pipe it watches.
    private final class IdleProbe {
        let loop: EventLoop
        private(set) var reports = 0
        private let pipe: (read: FileDescriptor, write: FileDescriptor)

        init(delay: Int32) throws {
            loop = try EventLoop()
            loop.idleDelayMillis = delay
            pipe = try Pipe.make()
            loop.onIdle = { [unowned self] in reports += 1 }
            try loop.watch(pipe.read, .readable) { [pipe] _ in
                var b: UInt8 = 0
                _ = read(pipe.read.rawValue, &b, 1)
            }
        }

        deinit {
            try? pipe.read.close()
            try? pipe.write.close()
        }

        /// A byte, then the turn that reads it.
        func wake() {
            var byte: UInt8 = 1
            _ = write(pipe.write.rawValue, &byte, 1)
            loop.turn(maxWaitMillis: -1)
        }
    }

    func testOnIdleRunsOnceAfterAQuietSpellAndAgainOnlyAfterActivity() throws {
        let probe = try IdleProbe(delay: 20)
        // Busy: a byte arrives every 5 ms, within the idle delay.
        for _ in 0..<10 {
            probe.wake()
            usleep(5_000)
        }
        XCTAssertEqual(probe.reports, 0, "a busy loop is not idle")
        // Quiet: one report, not one per turn (after it, an unbounded wait
        // would sleep for ever: the turns here are bounded).
        probe.loop.turn(maxWaitMillis: -1)
        XCTAssertEqual(probe.reports, 1)
        for _ in 0..<3 { probe.loop.turn(maxWaitMillis: 30) }
        XCTAssertEqual(probe.reports, 1, "reported once per quiet spell")
        // Activity, then quiet again: reported again.
        probe.wake()
        probe.loop.turn(maxWaitMillis: -1)
        XCTAssertEqual(probe.reports, 2)
    }

    /// An engine polling every second woke each shim just after it had given
    /// its memory back, so every State call faulted the code back in (the
    /// scale bench's polling: a fifth of a core for 1,000 shims). A loop
    /// woken within one delay of going quiet waits twice as long before the
    /// next report; woken after a longer quiet, it is back to the base delay.
    /// The margins are wide (100 ms against 150) for a loaded machine.
    func testAWakeSoonAfterAQuietSpellLengthensTheNextOne() throws {
        let probe = try IdleProbe(delay: 100)
        probe.loop.turn(maxWaitMillis: -1)
        XCTAssertEqual(probe.reports, 1)
        // Woken at once after the quiet spell: 150 ms of quiet is no longer one.
        probe.wake()
        probe.loop.turn(maxWaitMillis: 150)
        XCTAssertEqual(probe.reports, 1, "150 ms after a wake that came right after a quiet spell")
        probe.loop.turn(maxWaitMillis: 250)
        XCTAssertEqual(probe.reports, 2, "200 ms are")
        // Left alone for longer than that, then woken: back to 100 ms.
        for _ in 0..<3 { probe.loop.turn(maxWaitMillis: 150) }
        probe.wake()
        probe.loop.turn(maxWaitMillis: 150)
        XCTAssertEqual(probe.reports, 3, "100 ms are a quiet spell again")
    }

    func testReleasingIdleMemoryKeepsTheStackAndHeapUsable() throws {
        // Deep frames first, so there is stack below this one to drop.
        func deep(_ n: Int) -> Int {
            var frame = [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 512)
            return n == 0 ? Int(frame[0]) : deep(n - 1) + Int(frame.withUnsafeMutableBytes { $0[0] })
        }
        XCTAssertEqual(deep(200), (0...200).reduce(0) { $0 + ($1 & 0xFF) })
        let kept = Array(0..<10_000)
        IdleMemory.release()
        XCTAssertEqual(kept.reduce(0, +), 49_995_000)
        XCTAssertEqual(deep(200), (0...200).reduce(0) { $0 + ($1 & 0xFF) })
        let scratch = ScratchBuffer(capacity: 4096)
        scratch.bytes[0] = 7
        scratch.release()
        XCTAssertEqual(scratch.bytes.count, 4096, "a released buffer comes back on the next use")
    }

    func testReleasingIdleMemoryDropsTheStackBelowTheCaller() throws {
        // 64 frames of 4 KiB each, written: 256 KiB of stack below this frame.
        func deep(_ n: Int) -> Int {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { frame in
                frame.initialize(repeating: UInt8(truncatingIfNeeded: n))
                return n == 0 ? Int(frame[4095]) : deep(n - 1) + Int(frame[0])
            }
        }
        XCTAssertEqual(deep(64), (0...64).reduce(0, +))
        let before = try residentKB(of: "[stack]")
        IdleMemory.release()
        let after = try residentKB(of: "[stack]")
        print("stack resident: \(before) kB before the release, \(after) kB after")
        XCTAssertGreaterThanOrEqual(before, 256, "the deep frames were resident")
        XCTAssertLessThan(after, before - 200, "the pages below the caller went back")
        IdleMemory.release()
        XCTAssertEqual(deep(64), (0...64).reduce(0, +), "the stack grows back where it was dropped")
        XCTAssertLessThanOrEqual(try residentKB(of: "[stack]"), before)
    }

    func testReleasingTheTextUnmapsItsPagesAndTheCodeStillRuns() throws {
        let before = try residentExecutableText()
        let released = IdleMemory.releaseText()
        let after = try residentExecutableText()
        print("executable text resident: \(before) kB before, \(after) kB after; \(released >> 10) kB released")
        XCTAssertGreaterThan(released, 0, "the test binary has executable segments")
        XCTAssertLessThan(after, before, "the released pages are no longer mapped")
        // Everything runs again, from the page cache.
        XCTAssertEqual((1...1000).map { $0 * 2 }.reduce(0, +), 1_001_000)
        XCTAssertEqual(String(describing: [1, 2, 3]), "[1, 2, 3]")
    }

    /// kB of this process's executable mappings that are resident (smaps Rss).
    private func residentExecutableText() throws -> Int {
        try residentKB { fields in fields[1].contains("x") }
    }

    /// kB resident (smaps Rss) of the mappings named `name`, e.g. "[stack]".
    private func residentKB(of name: String) throws -> Int {
        try residentKB { fields in fields.count >= 6 && fields[5] == name }
    }

    /// kB resident (smaps Rss) of the mappings whose header line's fields
    /// (address, permissions, offset, device, inode, name) `matches`.
    private func residentKB(_ matches: ([Substring]) -> Bool) throws -> Int {
        let smaps = String(decoding: try FileSystem.read("/proc/self/smaps", limit: 64 << 20), as: UTF8.self)
        var total = 0
        var counted = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                counted = matches(fields)
            } else if counted, fields.first == "Rss:", fields.count >= 2, let kB = Int(fields[1]) {
                total += kB
            }
        }
        return total
    }
}
