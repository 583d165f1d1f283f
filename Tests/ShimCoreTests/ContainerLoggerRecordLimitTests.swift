import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// LogConfig.recordLimit: no k8s-file record holds more than the limit's
/// bytes of a line (its newline counted), whether the line came in one read
/// or was held across several. conmon's records are bounded so by its 8 KiB
/// read buffer; ocishim-conmon sets the limit to match.
final class ContainerLoggerRecordLimitTests: LogTestCase {
    private let limit = 8192

    private func limitedLogger() throws -> ContainerLogger {
        var config = LogConfig(drivers: [.k8sFile(path: path("ctr.log"))], containerID: logTestID)
        config.recordLimit = limit
        return try withTimeZone("UTC0") { try ContainerLogger(config: config, clock: clock.clock) }
    }

    /// Tag and content length of each record.
    private func shape() throws -> [String] {
        try readText(path("ctr.log")).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            return "\(fields[2]) \(fields.count > 3 ? fields[3].utf8.count : 0)"
        }
    }

    /// conmon's log_long_line: 20000 bytes and a newline in one write are
    /// read 8192 bytes at a time, so P, P, F.
    func testALongLineInOneReadIsCutIntoRecordsOfTheLimit() throws {
        let logger = try limitedLogger()
        logger.write(.stdout, String(repeating: "x", count: 20000) + "\n")
        XCTAssertEqual(try shape(), ["P 8192", "P 8192", "F 3616"])
    }

    /// Without a limit the same line is one record (the core's default).
    func testWithoutALimitTheLineIsOneRecord() throws {
        let logger = try fileLogger()
        logger.write(.stdout, String(repeating: "x", count: 20000) + "\n")
        XCTAssertEqual(try shape(), ["F 20000"])
    }

    /// The newline counts: 8191 bytes and a newline fit one of conmon's
    /// reads, 8192 and a newline do not (the newline comes alone, an empty F).
    func testTheNewlineCountsAgainstTheLimit() throws {
        let logger = try limitedLogger()
        logger.write(.stdout, String(repeating: "a", count: 8191) + "\n" + String(repeating: "b", count: 8192) + "\n")
        XCTAssertEqual(try shape(), ["F 8191", "P 8192", "F 0"])
    }

    /// A held tail is never longer than the limit: the piece that would make
    /// it longer fills it up, and it goes out as P.
    func testAHeldTailStaysWithinTheLimit() throws {
        let logger = try limitedLogger()
        logger.write(.stdout, String(repeating: "a", count: 5000))
        XCTAssertEqual(try shape(), [], "held")
        logger.write(.stdout, String(repeating: "b", count: 5000) + "\n")
        XCTAssertEqual(try shape(), ["P 8192", "F 1808"])
        logger.write(.stdout, String(repeating: "c", count: 3000))
        logger.write(.stdout, String(repeating: "d", count: 3000) + "\n")
        XCTAssertEqual(try shape(), ["P 8192", "F 1808", "F 6000"], "joined within the limit")
    }

    /// Wherever the reads end, a long line is cut at the same places.
    func testALongLineIsCutAtTheSamePlacesWhateverTheReads() throws {
        let line = Array(String(repeating: "x", count: 20000).utf8) + [UInt8(ascii: "\n")]
        for readSize in [1000, 4096, 6000, 8192, 9000] {
            try? FileSystem.removeFile(path("ctr.log"))
            let logger = try limitedLogger()
            for start in stride(from: 0, to: line.count, by: readSize) {
                logger.write(.stdout, Array(line[start..<min(start + readSize, line.count)]))
            }
            XCTAssertEqual(try shape(), ["P 8192", "P 8192", "F 3616"], "reads of \(readSize) bytes")
            logger.close()
        }
    }
}
