import Glibc
import XCTest
import ShimSystem
@testable import ShimCore

final class RuntimeLogFilesTests: XCTestCase {
    /// One file serves invocation after invocation, emptied for each; two
    /// invocations in flight get two files.
    func testAFreedFileIsReusedEmptyAndInvocationsInFlightGetTheirOwn() throws {
        let dir = try TemporaryDirectory.make(prefix: "runtime-logs-test")
        defer { try? FileSystem.removeTree(dir) }
        let logs = RuntimeLogFiles(dir: FileSystem.join(dir, "runtime"))
        let first = try logs.take()
        try FileSystem.writeAtomically(first.path, "{\"level\":\"error\",\"msg\":\"old\"}\n")
        logs.release(first.slot)
        let again = try logs.take()
        XCTAssertEqual(again.path, first.path)
        XCTAssertEqual(try FileSystem.readString(again.path), "", "emptied before it is used again")
        let second = try logs.take()
        XCTAssertNotEqual(second.path, again.path)
        logs.release(again.slot)
        logs.release(second.slot)
        XCTAssertEqual(try logs.take().path, first.path)
    }

    /// The runtime follows symlinks when it opens its log: one planted at a
    /// file's name is removed (its target untouched) before the file is used.
    func testASymlinkAtAFileNameIsUnlinkedNotFollowed() throws {
        let dir = try TemporaryDirectory.make(prefix: "runtime-logs-test")
        defer { try? FileSystem.removeTree(dir) }
        let target = FileSystem.join(dir, "precious")
        try FileSystem.writeAtomically(target, "keep me")
        let logs = RuntimeLogFiles(dir: FileSystem.join(dir, "runtime"))
        let first = try logs.take()
        logs.release(first.slot)
        XCTAssertEqual(symlink(target, first.path), 0)
        let again = try logs.take()
        XCTAssertEqual(again.path, first.path)
        XCTAssertNil(FileSystem.readLink(again.path))
        XCTAssertEqual(try FileSystem.readString(target), "keep me")
    }
}
