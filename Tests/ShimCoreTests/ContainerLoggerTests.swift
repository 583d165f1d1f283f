import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// The k8s-file (CRI) format, byte for byte. The expected texts are what
/// conmon 2.1.6 (Debian 2.1.6+ds1-1) wrote for the same chunks, captured by
/// running it with a stand-in runtime, with our fixed timestamp in place of
/// its clock, except where a line spans chunks: conmon writes a P record
/// for every chunk that ends inside a line, we hold the tail until its
/// line is complete (ContainerLoggerHeldTailTests), so those expectations
/// write the held tail with `flush()`.
final class ContainerLoggerTests: LogTestCase {
    private let stamp = "2026-11-30T09:12:01.123456789+00:00"

    func testAFullLineIsOneFRecord() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "hello\n")
        XCTAssertEqual(try readText(path("ctr.log")), "\(stamp) stdout F hello\n")
        XCTAssertNil(logger.writeError)
    }

    func testTheLinesOfAChunkShareItsTimestamp() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "a\nb\n\nc")
        logger.flush()
        XCTAssertEqual(try readText(path("ctr.log")), """
            \(stamp) stdout F a
            \(stamp) stdout F b
            \(stamp) stdout F 
            \(stamp) stdout P c

            """)
    }

    /// conmon wrote "P tail" for the first chunk and "F  continued" for
    /// the second: one line, two records. The line is one F record, stamped
    /// by the read that completed it.
    func testALineSplitAcrossTwoChunksIsOneFRecord() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "tail")
        XCTAssertEqual(try readText(path("ctr.log")), "")
        logger.write(.stdout, " continued\nnext\n", at: logTestTime + 1)
        XCTAssertEqual(try readText(path("ctr.log")), """
            2026-11-30T09:12:01.123456790+00:00 stdout F tail continued
            2026-11-30T09:12:01.123456790+00:00 stdout F next

            """)
    }

    func testAChunkEndingAtANewlineHasNoEmptyRecordAfterIt() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "one\ntwo\n")
        XCTAssertEqual(try readText(path("ctr.log")), "\(stamp) stdout F one\n\(stamp) stdout F two\n")
    }

    func testALoneNewlineIsAnFRecordWithEmptyContent() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "\n")
        logger.write(.stdout, "x\n\n")
        XCTAssertEqual(try readText(path("ctr.log")), "\(stamp) stdout F \n\(stamp) stdout F x\n\(stamp) stdout F \n")
    }

    func testACarriageReturnIsContent() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "d\r\n\r")
        logger.flush()
        XCTAssertEqual(try readText(path("ctr.log")), "\(stamp) stdout F d\r\n\(stamp) stdout P \r\n")
    }

    func testBinaryContentIsCopiedAsIs() throws {
        let logger = try fileLogger()
        logger.write(.stdout, [0x00, 0xFF, 0x1B, 0x0A])
        XCTAssertEqual(try FileSystem.read(path("ctr.log")), Array("\(stamp) stdout F ".utf8) + [0x00, 0xFF, 0x1B, 0x0A])
    }

    func testStdoutAndStderrNeverShareARecord() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "out")
        logger.write(.stderr, "err line\n")
        logger.write(.stdout, "put\n")
        XCTAssertEqual(try readText(path("ctr.log")), """
            \(stamp) stderr F err line
            \(stamp) stdout F output

            """)
    }

    func testAnEmptyChunkWritesNothing() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "")
        XCTAssertEqual(try readText(path("ctr.log")), "")
    }

    func testNanosecondsAreNineDigits() throws {
        let logger = try fileLogger()
        let second: Int64 = 1_796_029_921 * 1_000_000_000
        logger.write(.stdout, "zero\n", at: second)
        logger.write(.stdout, "seven\n", at: second + 7)
        logger.write(.stdout, "next second\n", at: second + 1_000_000_000 + 120_000_000)
        XCTAssertEqual(try readText(path("ctr.log")), """
            2026-11-30T09:12:01.000000000+00:00 stdout F zero
            2026-11-30T09:12:01.000000007+00:00 stdout F seven
            2026-11-30T09:12:02.120000000+00:00 stdout F next second

            """)
    }

    /// conmon prints local time with tm_gmtoff as ±hh:mm; seconds of an
    /// offset are dropped ("XYZ+3:15:20" printed -03:15 by conmon).
    func testLocalTimeWithPositiveAndNegativeOffsets() throws {
        let cases = [
            ("<+0545>-5:45", "2026-11-30T14:57:01.123456789+05:45"),
            ("<-0330>+3:30", "2026-11-30T05:42:01.123456789-03:30"),
            ("XYZ+3:15:20", "2026-11-30T05:56:41.123456789-03:15"),
            ("<-10>+10", "2026-11-29T23:12:01.123456789-10:00"),
        ]
        for (index, (zone, expected)) in cases.enumerated() {
            let name = "tz\(index).log"
            try withTimeZone(zone) {
                let logger = try ContainerLogger(config: LogConfig(drivers: [.k8sFile(path: path(name))], containerID: logTestID))
                logger.write(.stdout, "x\n")
                logger.close()
            }
            XCTAssertEqual(try readText(path(name)), "\(expected) stdout F x\n", zone)
        }
    }

    func testADaylightSavingChangeWithinOneLoggerIsFollowed() throws {
        guard FileSystem.exists("/usr/share/zoneinfo/Europe/Berlin") else {
            throw XCTSkip("no zoneinfo for Europe/Berlin")
        }
        // 2026-03-29 01:00:00Z: Berlin goes from +01:00 to +02:00.
        let change: Int64 = 1_774_746_000 * 1_000_000_000
        try withTimeZone("Europe/Berlin") {
            let logger = try ContainerLogger(config: LogConfig(drivers: [.k8sFile(path: path("dst.log"))], containerID: logTestID))
            logger.write(.stdout, "before\n", at: change - 1)
            logger.write(.stdout, "after\n", at: change)
            logger.close()
        }
        XCTAssertEqual(try readText(path("dst.log")), """
            2026-03-29T01:59:59.999999999+01:00 stdout F before
            2026-03-29T03:00:00.000000000+02:00 stdout F after

            """)
    }

    func testTheFileIsCreatedWithMode0600AndAppendedTo() throws {
        try FileSystem.writeAtomically(path("ctr.log"), "earlier\n")
        chmod(path("ctr.log"), 0o644)
        let logger = try fileLogger()
        logger.write(.stdout, "later\n")
        XCTAssertEqual(try readText(path("ctr.log")), "earlier\n\(stamp) stdout F later\n")

        let fresh = try fileLogger("fresh.log")
        fresh.write(.stdout, "x\n")
        XCTAssertEqual(try FileSystem.statMode(path("fresh.log")).map { $0 & 0o777 }, 0o600)
    }

    /// More records in one chunk than one writev takes (1024 segments).
    func testAChunkOfThousandsOfLinesIsWrittenWhole() throws {
        let logger = try fileLogger()
        let lines = (0..<3000).map { "\($0)" }
        logger.write(.stdout, lines.joined(separator: "\n") + "\n")
        let expected = lines.map { "\(stamp) stdout F \($0)\n" }.joined()
        XCTAssertEqual(try readText(path("ctr.log")), expected)
    }

    /// Long lines take another path into the file (not copied): the
    /// records must not differ.
    func testLongAndShortLinesMixed() throws {
        let logger = try fileLogger()
        let long = String(repeating: "L", count: 2000)
        let longFragment = String(repeating: "M", count: RecordBatch.copyLimit + 1)
        logger.write(.stdout, "short\n\(long)\nmid\n\(longFragment)")
        logger.write(.stderr, "\(long)")
        logger.flush()
        XCTAssertEqual(try readText(path("ctr.log")), """
            \(stamp) stdout F short
            \(stamp) stdout F \(long)
            \(stamp) stdout F mid
            \(stamp) stdout P \(longFragment)
            \(stamp) stderr P \(long)

            """)
    }

    /// More records than fit in one batch's staging buffer.
    func testAChunkLargerThanOneBatch() throws {
        let logger = try fileLogger()
        let lines = (0..<1500).map { "\($0) " + String(repeating: "s", count: 100) }
        logger.write(.stdout, lines.joined(separator: "\n") + "\n")
        XCTAssertEqual(try readText(path("ctr.log")), lines.map { "\(stamp) stdout F \($0)\n" }.joined())
    }

    /// 10,000 numbered lines through chunks of random sizes: the records
    /// concatenate back to the input (F adds the newline, P does not), and
    /// being short, every line is one F record wherever the chunks cut.
    func testNumberedLinesThroughRandomChunksComeBackInOrder() throws {
        let logger = try fileLogger()
        let input = Array((1...10_000).map { "line \($0) " + String(repeating: "x", count: $0 % 37) + "\n" }.joined().utf8)
        var generator = SplitMix64(seed: 42)
        var offset = 0
        var chunks = 0
        while offset < input.count {
            let size = min(input.count - offset, 1 + Int(generator.next() % 3000))
            logger.write(.stdout, Array(input[offset..<(offset + size)]), at: logTestTime + Int64(chunks))
            offset += size
            chunks += 1
        }
        XCTAssertNil(logger.writeError)
        XCTAssertGreaterThan(chunks, 100)

        var rebuilt: [UInt8] = []
        var records = 0
        for record in try FileSystem.read(path("ctr.log")).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            let prefix = Array(record.prefix(45))
            XCTAssertEqual(prefix[35...], ArraySlice(" stdout ".utf8 + [prefix[43], UInt8(ascii: " ")]))
            switch prefix[43] {
            case UInt8(ascii: "F"): rebuilt += record.dropFirst(45) + [UInt8(ascii: "\n")]
            case UInt8(ascii: "P"): rebuilt += record.dropFirst(45)
            default: XCTFail("bad record tag in \(String(decoding: record, as: UTF8.self))")
            }
            records += 1
        }
        XCTAssertEqual(rebuilt, input)
        XCTAssertEqual(records, 10_000)
    }

    func testWritesAfterCloseAreDiscarded() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "kept\n")
        logger.close()
        logger.write(.stdout, "dropped\n")
        XCTAssertEqual(try readText(path("ctr.log")), "\(stamp) stdout F kept\n")
    }
}

/// A small deterministic generator, so that a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
