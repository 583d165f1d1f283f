import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// Size limit, rotation and reopen of the k8s-file log.
final class ContainerLoggerFileLimitTests: LogTestCase {
    private let stamp = "2026-11-30T09:12:01.123456789+00:00"

    private func record(_ content: String, _ tag: String = "F") -> String { "\(stamp) stdout \(tag) \(content)\n" }

    private func inode(_ name: String) -> UInt {
        var info = stat()
        return stat(path(name), &info) == 0 ? UInt(info.st_ino) : 0
    }

    /// The sequence conmon 2.1.6 went through with --log-size-max 160, one
    /// chunk per step (each line record is 45 bytes plus its content), but
    /// for the last two steps: conmon wrote "p1" and "p2" as P records at
    /// once; their line is held until its newline.
    func testSizeMaxStartsOverInAFreshFileLikeConmon() throws {
        let logger = try fileLogger(sizeMax: 160)
        let big = String(repeating: "0", count: 200)
        let steps: [(chunk: String, file: String, startsOver: Bool)] = [
            ("line-1\n", record("line-1"), false),
            ("line-2\n", record("line-1") + record("line-2"), false),
            ("line-3\n", record("line-1") + record("line-2") + record("line-3"), false),
            ("line-4\n", record("line-4"), true),
            ("aa\nbb\ncc\n", record("cc"), true),
            (big + "\n", record(big), true),
            ("after\n", record("after"), true),
            ("p1", record("after"), false),
            ("p2\n", record("after") + record("p1p2"), false),
        ]
        var lastInode = inode("ctr.log")
        for step in steps {
            logger.write(.stdout, step.chunk)
            XCTAssertEqual(try readText(path("ctr.log")), step.file, "after \(step.chunk.prefix(10))")
            // Like conmon, starting over renames a new file over the path.
            XCTAssertEqual(inode("ctr.log") != lastInode, step.startsOver, "after \(step.chunk.prefix(10))")
            lastInode = inode("ctr.log")
        }
        XCTAssertEqual(try FileSystem.list(dir), ["ctr.log"])
        XCTAssertNil(logger.writeError)
    }

    func testTheFileNeverExceedsTheLimitByMoreThanOneRecord() throws {
        let limit: Int64 = 1000
        let logger = try fileLogger(sizeMax: limit)
        var generator = SplitMix64(seed: 7)
        for index in 0..<400 {
            let lineCount = Int(generator.next() % 5)
            var chunk = (0..<lineCount).map { "\(index).\($0) " + String(repeating: "y", count: Int(generator.next() % 300)) + "\n" }.joined()
            if generator.next() % 3 == 0 { chunk += "fragment" }
            logger.write(.stdout, chunk)
            let content = try FileSystem.read(path("ctr.log"))
            let records = content.split(separator: UInt8(ascii: "\n"))
            XCTAssertTrue(content.isEmpty || content.last == UInt8(ascii: "\n"))
            XCTAssertTrue(content.count <= limit || records.count == 1, "\(content.count) bytes in \(records.count) records")
            for record in records {
                XCTAssertEqual(String(decoding: record.prefix(43), as: UTF8.self), "\(stamp) stdout ")
            }
        }
    }

    func testRotationKeepsExactlyMaxFilesOldFiles() throws {
        // "rNN\n" makes a 49-byte record: two per file.
        let lines = (1...12).map { String(format2: $0) }
        for chunking in ["one chunk per line", "one chunk"] {
            let logger = try fileLogger("\(chunking).log", sizeMax: 100, maxFiles: 2)
            if chunking == "one chunk" {
                logger.write(.stdout, lines.map { $0 + "\n" }.joined())
            } else {
                for line in lines { logger.write(.stdout, line + "\n") }
            }
            XCTAssertEqual(try readText(path("\(chunking).log")), record("r11") + record("r12"), chunking)
            XCTAssertEqual(try readText(path("\(chunking).log.1")), record("r09") + record("r10"), chunking)
            XCTAssertEqual(try readText(path("\(chunking).log.2")), record("r07") + record("r08"), chunking)
            XCTAssertNil(logger.writeError)
            logger.close()
        }
        XCTAssertEqual(try FileSystem.list(dir).sorted(), [
            "one chunk per line.log", "one chunk per line.log.1", "one chunk per line.log.2",
            "one chunk.log", "one chunk.log.1", "one chunk.log.2",
        ])
        XCTAssertEqual(try FileSystem.statMode(path("one chunk.log.2")).map { $0 & 0o777 }, 0o600)
    }

    func testReopenAfterTheFileWasRenamedAwayWritesANewFile() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "first\n")
        XCTAssertEqual(rename(path("ctr.log"), path("ctr.log.20261130")), 0)
        logger.write(.stdout, "second\n")  // still the renamed file, as with conmon
        try logger.reopen()
        logger.write(.stdout, "third\n")
        XCTAssertEqual(try readText(path("ctr.log.20261130")), record("first") + record("second"))
        XCTAssertEqual(try readText(path("ctr.log")), record("third"))
        XCTAssertEqual(try FileSystem.statMode(path("ctr.log")).map { $0 & 0o777 }, 0o600)
    }

    /// conmon would replace the file with an empty one here; a reopen that
    /// nobody rotated for must not lose the log.
    func testReopenWithoutRotationKeepsTheContent() throws {
        let logger = try fileLogger()
        logger.write(.stdout, "first\n")
        try logger.reopen()
        logger.write(.stdout, "second\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("first") + record("second"))
    }

    func testALogFileInAMissingDirectoryIsAnInvalidArgument() {
        XCTAssertThrowsError(try fileLogger("missing/ctr.log")) { error in
            XCTAssertEqual((error as? CoreError)?.kind, .invalidArgument)
            XCTAssertTrue("\(error)".contains("missing/ctr.log"), "\(error)")
        }
    }

    func testAFailedReopenKeepsWritingToTheOldFile() throws {
        try FileSystem.createDirectory(path("sub"))
        let logger = try fileLogger("sub/ctr.log")
        XCTAssertEqual(rename(path("sub"), path("moved")), 0)
        XCTAssertThrowsError(try logger.reopen()) { error in
            XCTAssertEqual((error as? CoreError)?.kind, .invalidArgument)
        }
        logger.write(.stdout, "still here\n")
        XCTAssertEqual(try readText(path("moved/ctr.log")), record("still here"))
        XCTAssertNil(logger.writeError)
    }

    /// copytruncate rotation empties the file behind our back: the limit
    /// counts what is really in the file, so it does not start over early.
    func testAnExternalTruncationIsNoticedBeforeStartingOver() throws {
        let logger = try fileLogger(sizeMax: 150)
        logger.write(.stdout, "r01\n")
        logger.write(.stdout, "r02\n")
        XCTAssertEqual(truncate(path("ctr.log"), 0), 0)
        logger.write(.stdout, "r03\n")
        logger.write(.stdout, "r04\n")
        XCTAssertEqual(try readText(path("ctr.log")), record("r03") + record("r04"))
    }
}

private extension String {
    /// "r07": the rotation test's fixed-width lines.
    init(format2 value: Int) {
        self = value < 10 ? "r0\(value)" : "r\(value)"
    }
}
