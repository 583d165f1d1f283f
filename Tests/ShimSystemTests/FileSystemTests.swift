import Glibc
import XCTest
@testable import ShimSystem

final class FileSystemTests: XCTestCase {
    func testAtomicWriteReplacesContentAndLeavesNoTemporaryFile() throws {
        let dir = try TemporaryDirectory.make(prefix: "fs-test")
        defer { try? FileSystem.removeTree(dir) }
        let path = FileSystem.join(dir, "exit")
        try FileSystem.writeAtomically(path, "1")
        try FileSystem.writeAtomically(path, "137")
        XCTAssertEqual(try FileSystem.readString(path), "137")
        XCTAssertEqual(try FileSystem.list(dir), ["exit"])
    }

    func testCreateAndRemoveNestedDirectories() throws {
        let dir = try TemporaryDirectory.make(prefix: "fs-test")
        let nested = FileSystem.join(dir, "a/b/c")
        try FileSystem.createDirectory(nested)
        XCTAssertTrue(FileSystem.isDirectory(nested))
        try FileSystem.writeAtomically(FileSystem.join(nested, "f"), "x")
        try FileSystem.removeTree(dir)
        XCTAssertFalse(FileSystem.exists(dir))
    }

    func testJoinAndNames() {
        XCTAssertEqual(FileSystem.join("/run/", "/x", "y"), "/run/x/y")
        XCTAssertEqual(FileSystem.join("a", "b"), "a/b")
        XCTAssertEqual(FileSystem.dirname(of: "/usr/bin/runc"), "/usr/bin")
        XCTAssertEqual(FileSystem.dirname(of: "/runc"), "/")
        XCTAssertEqual(FileSystem.basename(of: "/usr/bin/runc"), "runc")
    }

    func testLookPathFindsExecutablesOnly() {
        XCTAssertEqual(FileSystem.lookPath("sh", path: "/nonexistent:/bin"), "/bin/sh")
        XCTAssertNil(FileSystem.lookPath("passwd", path: "/etc"), "/etc/passwd is not executable")
    }
}
