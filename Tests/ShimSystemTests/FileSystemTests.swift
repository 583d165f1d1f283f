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

    /// The old temporary name was predictable (`<path>.tmp.<pid>`): a
    /// symlink planted there made the shim overwrite its target and left
    /// the exit file a symlink.
    func testAtomicWriteIgnoresASymlinkPlantedAtTheTemporaryName() throws {
        let dir = try TemporaryDirectory.make(prefix: "fs-test")
        defer { try? FileSystem.removeTree(dir) }
        let target = FileSystem.join(dir, "precious")
        try FileSystem.writeAtomically(target, "keep me")
        let path = FileSystem.join(dir, "exit")
        XCTAssertEqual(symlink(target, "\(path).tmp.\(getpid())"), 0)
        XCTAssertEqual(symlink(target, path), 0, "a symlink at the exit file itself")
        try FileSystem.writeAtomically(path, "137")
        XCTAssertEqual(try FileSystem.readString(target), "keep me")
        XCTAssertEqual(FileSystem.readLink(path), nil, "the exit file is still a symlink")
        XCTAssertEqual(try FileSystem.readString(path), "137")
        XCTAssertEqual(try FileSystem.list(dir), ["exit", "exit.tmp.\(getpid())", "precious"])
    }

    /// Reads of files a container or user controls never block and never
    /// take anything but a regular file of bounded size.
    func testReadRefusesFIFOsSymlinksOnRequestAndOversizedFiles() throws {
        let dir = try TemporaryDirectory.make(prefix: "fs-test")
        defer { try? FileSystem.removeTree(dir) }
        let fifo = FileSystem.join(dir, "fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try FileSystem.read(fifo)) { error in
            XCTAssertTrue("\(error)".contains("not a regular file (a FIFO)"), "\(error)")
        }
        let file = FileSystem.join(dir, "file")
        try FileSystem.writeAtomically(file, "0123456789")
        XCTAssertEqual(try FileSystem.read(file, limit: 10).count, 10)
        XCTAssertThrowsError(try FileSystem.read(file, limit: 9)) { error in
            XCTAssertTrue("\(error)".contains("larger than the 9 bytes allowed"), "\(error)")
        }
        let link = FileSystem.join(dir, "link")
        XCTAssertEqual(symlink(file, link), 0)
        XCTAssertEqual(try FileSystem.read(link).count, 10)
        XCTAssertThrowsError(try FileSystem.read(link, followSymlinks: false))
        XCTAssertNil(try FileSystem.readIfExists(FileSystem.join(dir, "missing")))
    }

    /// Inside a root, symlinks and `..` stay inside it.
    func testReadInRootStaysInsideTheRoot() throws {
        let dir = try TemporaryDirectory.make(prefix: "fs-test")
        defer { try? FileSystem.removeTree(dir) }
        let root = FileSystem.join(dir, "root")
        try FileSystem.createDirectory(FileSystem.join(root, "etc"))
        try FileSystem.writeAtomically(FileSystem.join(dir, "host"), "host file")
        try FileSystem.writeAtomically(FileSystem.join(root, "host"), "container file")
        XCTAssertEqual(symlink("../../host", FileSystem.join(root, "etc/up")), 0)
        XCTAssertEqual(symlink(FileSystem.join(dir, "host"), FileSystem.join(root, "etc/abs")), 0)
        XCTAssertEqual(try FileSystem.readInRoot(root, "/etc/up", limit: 100).map { String(decoding: $0, as: UTF8.self) }, "container file")
        XCTAssertNil(try FileSystem.readInRoot(root, "/etc/abs", limit: 100), "an absolute link names a path inside the root")
        XCTAssertEqual(try FileSystem.readInRoot(root, "/../../host", limit: 100).map { String(decoding: $0, as: UTF8.self) }, "container file")
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
