import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// ENOSPC on a real, tiny tmpfs: the logger drops and counts, reports the
/// error, keeps the file made of whole records, and recovers on its own.
final class ContainerLoggerDiskFullTests: LogTestCase {
    private var mountPoint: String?
    private let stamp = "2026-11-30T09:12:01.123456789+00:00"

    override func setUpWithError() throws {
        try super.setUpWithError()
        let target = path("tmpfs")
        try FileSystem.createDirectory(target)
        guard mount("tmpfs", target, "tmpfs", 0, "size=64k,mode=0700") == 0 else {
            throw XCTSkip("cannot mount a 64k tmpfs at \(target) (\(SystemError("mount"))); needs root with CAP_SYS_ADMIN")
        }
        mountPoint = target
    }

    override func tearDown() {
        if let mountPoint { umount2(mountPoint, Int32(MNT_DETACH)) }
        super.tearDown()
    }

    /// Lines "line <n> xxx…", 100 bytes each with the newline.
    private func chunk(lines range: Range<Int>) -> String {
        range.map { number in
            let head = "line \(number) "
            return head + String(repeating: "x", count: 99 - head.utf8.count) + "\n"
        }.joined()
    }

    /// The numbers of the lines in the log; fails unless every record is a
    /// whole F record of one of our lines.
    private func loggedLineNumbers(_ file: String) throws -> [Int] {
        let content = try readText(file)
        XCTAssertTrue(content.isEmpty || content.hasSuffix("\n"), "the log ends inside a record")
        return content.split(separator: "\n").compactMap { record -> Int? in
            let prefix = "\(stamp) stdout F line "
            guard record.hasPrefix(prefix), record.utf8.count == prefix.utf8.count - 5 + 99 else {
                XCTFail("not a whole record: \(record.prefix(80))")
                return nil
            }
            return Int(record.dropFirst(prefix.count).prefix { $0 != " " })
        }
    }

    func testAFullDiskDropsAndReportsThenRecovers() throws {
        let mountPoint = try XCTUnwrap(mountPoint)
        let filler = FileSystem.join(mountPoint, "filler")
        try FileSystem.writeAtomically(filler, [UInt8](repeating: 0, count: 40 << 10))
        let log = FileSystem.join(mountPoint, "ctr.log")
        let logger = try withTimeZone("UTC0") {
            try ContainerLogger(config: LogConfig(drivers: [.k8sFile(path: log)], containerID: logTestID))
        }
        var changes: [String?] = []
        logger.onErrorChange = { changes.append($0) }

        // 50 lines a chunk (7 KiB of records) until the disk is full.
        var next = 0
        var written = 0
        while logger.writeError == nil && next < 2000 {
            logger.write(.stdout, chunk(lines: next..<(next + 50)))
            next += 50
            written += 50 * 100
        }
        let message = "write \(log): No space left on device"
        XCTAssertEqual(logger.writeError, message)
        XCTAssertEqual(changes, [message])
        XCTAssertGreaterThan(logger.droppedBytes, 0)
        XCTAssertLessThanOrEqual(logger.droppedBytes, 50 * 100)

        // Whole records only, in order, and none lost before the failure.
        let numbers = try loggedLineNumbers(log)
        XCTAssertEqual(numbers, Array(0..<numbers.count))
        XCTAssertEqual(UInt64(written), UInt64(numbers.count * 100) + logger.droppedBytes)

        // While the disk stays full every chunk is dropped, without blocking.
        for _ in 0..<3 {
            let before = logger.droppedBytes
            logger.write(.stdout, chunk(lines: next..<(next + 50)))
            next += 50
            XCTAssertGreaterThan(logger.droppedBytes, before)
            XCTAssertEqual(logger.writeError, message)
        }
        XCTAssertEqual(changes, [message])
        XCTAssertFalse(try loggedLineNumbers(log).isEmpty)

        // Space again: the next chunk is written whole and the error clears.
        try FileSystem.removeFile(filler)
        let resumed = next
        logger.write(.stdout, chunk(lines: resumed..<(resumed + 50)))
        XCTAssertNil(logger.writeError)
        XCTAssertEqual(changes, [message, nil])
        let after = try loggedLineNumbers(log)
        XCTAssertEqual(Array(after.suffix(50)), Array(resumed..<(resumed + 50)))
        XCTAssertEqual(after, after.sorted(), "records out of order")
    }

    /// Chunks that all end inside a line, so that a tail is held at every
    /// moment: up to the failure the file holds whole F records only, and
    /// every byte handed over is in the file or counted as dropped (the
    /// failing write drops the held tail with it). A tail held while the
    /// disk is full is counted when its flush fails; with space again a held
    /// line is written whole.
    func testHeldTailsOnAFullDiskAreWrittenWholeOrCounted() throws {
        let mountPoint = try XCTUnwrap(mountPoint)
        let filler = FileSystem.join(mountPoint, "filler")
        try FileSystem.writeAtomically(filler, [UInt8](repeating: 0, count: 40 << 10))
        let log = FileSystem.join(mountPoint, "ctr.log")
        let logger = try withTimeZone("UTC0") {
            try ContainerLogger(config: LogConfig(drivers: [.k8sFile(path: log)], containerID: logTestID))
        }
        let input = Array(chunk(lines: 0..<2000).utf8)
        var offset = 0
        while logger.writeError == nil && offset < input.count {
            let end = min(offset + 5050, input.count)
            logger.write(.stdout, Array(input[offset..<end]))
            offset = end
        }
        let message = "write \(log): No space left on device"
        XCTAssertEqual(logger.writeError, message)
        let numbers = try loggedLineNumbers(log)
        XCTAssertFalse(numbers.isEmpty)
        XCTAssertEqual(numbers, Array(0..<numbers.count))
        XCTAssertEqual(UInt64(offset), UInt64(numbers.count * 100) + logger.droppedBytes)

        // Held while the disk is full (nothing to write yet), lost at the
        // flush. Longer than a page: the log's last page has room left.
        let rest = FileSystem.join(mountPoint, "rest")
        try fillUp(rest)
        let before = logger.droppedBytes
        let tail = String(repeating: "p", count: 6000)
        logger.write(.stdout, tail)
        XCTAssertEqual(logger.droppedBytes, before)
        logger.flush()
        XCTAssertEqual(logger.droppedBytes, before + 6000)
        XCTAssertEqual(try loggedLineNumbers(log), numbers)

        try FileSystem.removeFile(filler)
        try FileSystem.removeFile(rest)
        logger.write(.stdout, "Password: ")
        logger.write(.stdout, "hunter2\n")
        XCTAssertNil(logger.writeError)
        XCTAssertTrue(try readText(log).hasSuffix("\(stamp) stdout F Password: hunter2\n"))
        XCTAssertEqual(logger.droppedBytes, before + 6000)
    }

    /// Writes `path` until the file system is full.
    private func fillUp(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
    }
}
