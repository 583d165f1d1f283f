import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// The log file is opened and replaced without following what someone with
/// access to its directory planted there.
final class LogFileSafetyTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try TemporaryDirectory.make(prefix: "logfile-safety")
    }

    override func tearDown() {
        try? FileSystem.removeTree(dir)
    }

    /// conmon's size limit starts over in `<log>.tmp`; a symlink planted at
    /// that name used to be followed and its target truncated.
    func testStartingOverIgnoresASymlinkAtThePredictableTemporaryName() throws {
        let target = dir + "/precious"
        try FileSystem.writeAtomically(target, "keep me")
        let path = dir + "/ctr.log"
        let file = try LogFile(path: path)
        XCTAssertEqual(symlink(target, path + ".tmp"), 0)
        try file.startOver(keepingOldFiles: 0)
        XCTAssertEqual(try FileSystem.readString(target), "keep me")
        XCTAssertNil(FileSystem.readLink(path), "the log became a symlink")
        XCTAssertEqual(try FileSystem.list(dir), ["ctr.log", "ctr.log.tmp", "precious"])
        file.close()
    }

    func testASymlinkOrAFIFOAtTheLogPathIsRefused() throws {
        let target = dir + "/precious"
        try FileSystem.writeAtomically(target, "keep me")
        XCTAssertEqual(symlink(target, dir + "/link.log"), 0)
        XCTAssertThrowsError(try LogFile(path: dir + "/link.log")) { error in
            XCTAssertTrue("\(error)".contains("symlink"), "\(error)")
        }
        XCTAssertEqual(mkfifo(dir + "/fifo.log", 0o600), 0)
        XCTAssertThrowsError(try LogFile(path: dir + "/fifo.log"))
        XCTAssertEqual(try FileSystem.readString(target), "keep me")
    }

    /// An engine that asks for it (conmon's behaviour, which ocishim-conmon
    /// keeps) gets its log written through a symlink at the path.
    func testASymlinkIsFollowedWhenTheEngineAsks() throws {
        let target = dir + "/real.log"
        XCTAssertEqual(symlink(target, dir + "/link.log"), 0)
        let file = try LogFile(path: dir + "/link.log", followSymlinks: true)
        let batch = WriteVector()
        "hello\n".utf8CString.withUnsafeBytes { batch.append(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
        _ = file.append(batch)
        file.close()
        XCTAssertEqual(try FileSystem.readString(target), "hello\n")
    }
}
