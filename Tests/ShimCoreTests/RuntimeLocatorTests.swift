import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

final class RuntimeLocatorTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try TemporaryDirectory.make(prefix: "locator")
    }

    override func tearDown() {
        try? FileSystem.removeTree(dir)
    }

    private func makeFile(_ name: String, mode: mode_t = 0o755) throws -> String {
        let path = FileSystem.join(dir, name)
        try FileSystem.writeAtomically(path, "#!/bin/sh\n", mode: mode)
        chmod(path, mode)
        return path
    }

    func testTheFirstRegularFileAmongThePathsWins() throws {
        let second = try makeFile("second")
        let third = try makeFile("third")
        let directory = FileSystem.join(dir, "not-a-file")
        try FileSystem.createDirectory(directory)
        let selection = RuntimeSelection(name: "runc", paths: [FileSystem.join(dir, "missing"), directory, second, third])
        XCTAssertEqual(try RuntimeLocator.resolve(selection, searchPath: "/nonexistent"), ResolvedRuntime(name: "runc", path: second))
    }

    func testThePathIsSearchedLast() throws {
        let onPath = try makeFile("myruntime")
        let selection = RuntimeSelection(name: "myruntime", paths: [FileSystem.join(dir, "missing")])
        XCTAssertEqual(try RuntimeLocator.resolve(selection, searchPath: dir).path, onPath)
    }

    func testNoRuntimeIsAClearError() {
        let selection = RuntimeSelection(name: "nosuchruntime", paths: ["/nonexistent/nosuchruntime"])
        XCTAssertThrowsError(try RuntimeLocator.resolve(selection, searchPath: dir)) { error in
            let e = error as! CoreError
            XCTAssertEqual(e.kind, .invalidArgument)
            XCTAssertTrue(e.message.hasPrefix("no valid executable found for OCI runtime nosuchruntime"), e.message)
            XCTAssertTrue(e.message.contains("/nonexistent/nosuchruntime"), e.message)
        }
    }

    func testAnEmptyNameIsRejected() {
        XCTAssertThrowsError(try RuntimeLocator.resolve(RuntimeSelection(name: "", paths: [])))
    }

    func testAPathSelectionNamesItself() {
        let selection = RuntimeSelection("/opt/bin/crun")
        XCTAssertEqual(selection.name, "crun")
        XCTAssertEqual(selection.paths, ["/opt/bin/crun"])
        XCTAssertTrue(RuntimeSelection("runc").paths.contains("/usr/sbin/runc"))
    }

    func testOnlyTheSeedsCgroupManagersAreAccepted() {
        XCTAssertNoThrow(try RuntimeLocator.validateCgroupManager("cgroupfs"))
        XCTAssertNoThrow(try RuntimeLocator.validateCgroupManager("systemd"))
        XCTAssertThrowsError(try RuntimeLocator.validateCgroupManager("cgroupv3")) { error in
            XCTAssertTrue("\(error)".contains("invalid cgroup manager specified: cgroupv3"))
        }
    }

    func testContainerIDs() {
        XCTAssertNoThrow(try ShimConfig.validateContainerID("abc-123_x.y"))
        for bad in ["", "../etc", "a/b", ".hidden", "-flag", "sp ace", String(repeating: "a", count: 1025)] {
            XCTAssertThrowsError(try ShimConfig.validateContainerID(bad), "accepted \(bad)")
        }
    }

    func testDpkgAnswerParsing() {
        XCTAssertEqual(PackageQuery.dpkgPackageName("runc: /usr/sbin/runc"), "runc")
        XCTAssertNil(PackageQuery.dpkgPackageName("garbage"))
        XCTAssertEqual(PackageQuery.trimNewlines("\nabc\n\n"), "abc")
    }
}
