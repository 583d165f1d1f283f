import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// The log options an engine may ask for beyond the size limit: a limit
/// over everything written, a reopen that starts the file over, the mode
/// of the files, journald labels and the partial-message field (conmon's
/// --log-global-size-max, its ctl "2 0 0", conmon 2.2's 0640 files,
/// --log-label and --no-container-partial-message).
final class ContainerLoggerEngineOptionsTests: LogTestCase {
    private let stamp = "2026-11-30T09:12:01.123456789+00:00"

    private func record(_ content: String, _ stream: String = "stdout") -> String { "\(stamp) \(stream) F \(content)\n" }

    private func logger(_ configure: (inout LogConfig) -> Void) throws -> ContainerLogger {
        try withTimeZone("UTC0") {
            var config = LogConfig(drivers: [.k8sFile(path: path("ctr.log"))], containerID: logTestID)
            configure(&config)
            return try ContainerLogger(config: config, clock: clock.clock)
        }
    }

    /// Records stop once what was written reaches the total: the record
    /// that crosses it is the last (conmon checks before each record), and
    /// what is dropped on purpose is no write error.
    func testTotalSizeMaxDropsEverythingAfterIt() throws {
        // Each record is 45 bytes of prefix plus its line: "a\n" makes 47.
        let logger = try logger { $0.totalSizeMax = 100 }
        logger.write(.stdout, "a\nb\nc\nd\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("a") + record("b") + record("c"))
        logger.write(.stderr, "later\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("a") + record("b") + record("c"))
        XCTAssertNil(logger.writeError)
        XCTAssertEqual(logger.droppedBytes, 0)
    }

    /// The total counts across files: starting over at the size limit does
    /// not give the log a new allowance.
    func testTotalSizeMaxCountsEveryFile() throws {
        let logger = try logger {
            $0.sizeMax = 100
            $0.totalSizeMax = 150
        }
        logger.write(.stdout, "a\nb\n")
        logger.write(.stdout, "c\nd\ne\n")
        // a, b (94 bytes) in the first file; c starts the second (141); d
        // crosses 150 and is written; e is dropped.
        XCTAssertEqual(try readText(path("ctr.log")), record("c") + record("d"))
    }

    /// conmon answers a reopen by replacing the file with an empty one; by
    /// default the core reopens what is at the path and keeps its content.
    func testReopenStartsOverWhenAsked() throws {
        let keeping = try logger { _ in }
        keeping.write(.stdout, "before\n")
        try keeping.reopen()
        keeping.write(.stdout, "after\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("before") + record("after"))
        keeping.close()
        try FileSystem.removeFile(path("ctr.log"))

        let startingOver = try logger { $0.reopenStartsOver = true }
        startingOver.write(.stdout, "before\n")
        try startingOver.reopen()
        startingOver.write(.stdout, "after\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("after"))
        XCTAssertEqual(try FileSystem.list(dir), ["ctr.log"])
    }

    /// With rotation, a reopen rotates (conmon 2.2 with --log-rotate).
    func testReopenRotatesWhenFilesAreKept() throws {
        let logger = try logger {
            $0.reopenStartsOver = true
            $0.maxFiles = 2
        }
        logger.write(.stdout, "first\n")
        try logger.reopen()
        logger.write(.stdout, "second\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("second"))
        XCTAssertEqual(try readText(path("ctr.log.1")), record("first"))
    }

    func testFilesGetTheModeAskedFor() throws {
        let mask = umask(0o022)
        defer { umask(mask) }
        let logger = try logger {
            $0.fileMode = 0o640
            $0.sizeMax = 60
        }
        var info = stat()
        XCTAssertEqual(stat(path("ctr.log"), &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o640)
        // A file started over at the limit gets it too.
        logger.write(.stdout, "one\ntwo\n")
        XCTAssertEqual(stat(path("ctr.log"), &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o640)
    }
}

/// journald's extra fields (conmon 2.2).
final class JournalLabelTests: LogTestCase {
    func testLabelsFollowTheFixedFieldsAndThePartialFlagCanBeLeftOut() throws {
        let journal = try JournalListener(path: path("journal.sock"))
        var config = LogConfig(drivers: [.journald(socketPath: journal.path)], containerID: logTestID)
        config.labels = ["TEAM=blue", "EMPTY="]
        config.partialMessageField = false
        let logger = try ContainerLogger(config: config, clock: clock.clock)
        logger.write(.stdout, "line\n")
        logger.write(.stdout, "fragment")
        logger.flush()
        let entries = journal.receive()
        XCTAssertEqual(entries.count, 2)
        XCTAssertEqual(entries.first?.names, ["MESSAGE", "CONTAINER_ID_FULL", "PRIORITY", "CONTAINER_ID",
                                              "SYSLOG_IDENTIFIER", "TEAM", "EMPTY"])
        XCTAssertEqual(entries.first?["TEAM"], "blue")
        XCTAssertEqual(entries.first?["EMPTY"], "")
        XCTAssertEqual(entries.last?["MESSAGE"], "fragment")
        XCTAssertNil(entries.last?["CONTAINER_PARTIAL_MESSAGE"])
    }
}
