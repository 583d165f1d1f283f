import Glibc
import XCTest
@testable import ShimSystem

final class SwappedFileTests: XCTestCase {
    private func inode(_ path: String) -> UInt? {
        var info = stat()
        return lstat(path, &info) == 0 ? UInt(info.st_ino) : nil
    }

    /// Every write is read back whole, and from the second write on the two
    /// names only swap the same two inodes: no inode made or freed.
    func testWritesSwapTwoInodesAndEveryContentReadsBackWhole() throws {
        let dir = try TemporaryDirectory.make(prefix: "swapped-test")
        defer { try? FileSystem.removeTree(dir) }
        let file = SwappedFile(path: FileSystem.join(dir, "state.json"))
        var seen = Set<UInt>()
        for n in 1...6 {
            let text = String(repeating: "\(n)", count: 7 - n)  // shorter each time: no stale tail
            try file.write(Array(text.utf8))
            XCTAssertEqual(try FileSystem.readString(file.path), text)
            if n >= 2 {
                seen.insert(try XCTUnwrap(inode(file.path)))
                seen.insert(try XCTUnwrap(inode(file.sparePath)))
            }
        }
        XCTAssertEqual(seen.count, 2, "writes 2 to 6 used two inodes between them")
        XCTAssertEqual(try FileSystem.list(dir).sorted(), ["state.json", "state.json.spare"])
    }

    /// A symlink planted at the spare's name is neither followed nor
    /// removed: the writer falls back to writeAtomically for good.
    func testASymlinkAtTheSpareNameIsLeftAloneAndTheWriteStillLands() throws {
        let dir = try TemporaryDirectory.make(prefix: "swapped-test")
        defer { try? FileSystem.removeTree(dir) }
        let target = FileSystem.join(dir, "precious")
        try FileSystem.writeAtomically(target, "keep me")
        let file = SwappedFile(path: FileSystem.join(dir, "state.json"))
        try file.write(Array("one".utf8))
        XCTAssertEqual(symlink(target, file.sparePath), 0)
        for text in ["two", "three"] {
            try file.write(Array(text.utf8))
            XCTAssertEqual(try FileSystem.readString(file.path), text)
        }
        XCTAssertEqual(try FileSystem.readString(target), "keep me")
        XCTAssertEqual(FileSystem.readLink(file.sparePath), target)
    }

    /// A file put at the spare's name after it was the writer's (not one of
    /// its two inodes) is not truncated.
    func testAForeignFileAtTheSpareNameIsNotTruncated() throws {
        let dir = try TemporaryDirectory.make(prefix: "swapped-test")
        defer { try? FileSystem.removeTree(dir) }
        let file = SwappedFile(path: FileSystem.join(dir, "state.json"))
        try file.write(Array("one".utf8))
        try file.write(Array("two".utf8))
        let foreign = FileSystem.join(dir, "foreign")
        try FileSystem.writeAtomically(foreign, "not the shim's")
        XCTAssertEqual(rename(foreign, file.sparePath), 0)
        try file.write(Array("three".utf8))
        XCTAssertEqual(try FileSystem.readString(file.path), "three")
        XCTAssertEqual(try FileSystem.readString(file.sparePath), "not the shim's")
    }
}
