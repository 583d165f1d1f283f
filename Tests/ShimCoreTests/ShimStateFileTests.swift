import ShimSystem
import XCTest
@testable import ShimCore

/// state.json is written by the shim and read by ocictl through the same
/// type: what one writes, the other reads back unchanged.
final class ShimStateFileTests: XCTestCase {
    func testWhatTheShimWritesIsWhatOcictlReads() throws {
        var container = ContainerSnapshot(id: "c1", status: .stopped)
        container.pid = 42
        container.exitCode = 137
        container.createdAt = 1
        container.startedAt = 2
        container.finishedAt = 3
        container.oomKilled = true
        container.checkpointed = true
        container.bundle = "/b"
        container.logError = "write /l: No space left on device"
        var event = ContainerEvent(seq: 7, kind: .execExited, timestamp: 9, containerID: "c1")
        event.execID = "e1"
        event.exitCode = 3
        event.message = "done"
        let file = ShimStateFile(id: "c1", shimPid: 10, stateDir: "/run/x/c1", updatedAt: 11, container: container,
                                 runtime: .init(path: "/usr/sbin/runc", root: "/run/r", args: ["--systemd-cgroup"]),
                                 paths: ["log": "/l", "exitFile": "/e"], events: [event])
        let dir = try TemporaryDirectory.make(prefix: "statefile")
        defer { try? FileSystem.removeTree(dir) }
        try FileSystem.writeAtomically(dir + "/state.json", file.json.serializedBytes)
        XCTAssertEqual(ShimStateFile.read(stateDir: dir), file)
    }

    func testAFileWithoutAContainerOrRuntimeReadsBackAsSuch() throws {
        let file = ShimStateFile(id: "c1", shimPid: 10, stateDir: "/d", updatedAt: 1, container: nil, runtime: nil,
                                 paths: [:], events: [])
        XCTAssertEqual(ShimStateFile(file.json), file)
        XCTAssertNil(ShimStateFile(try JSONValue(parsing: Array("[1]".utf8))), "not an object")
    }
}
