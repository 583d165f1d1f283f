import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// Checkpoint and restore with the real runc and CRIU, where `criu check`
/// passes. On this project's machines it does not (Debian's CRIU 3.17 cannot
/// read this kernel's vDSO), so the test skips and prints what CRIU said;
/// CheckpointTests covers the shim's side with a fake runtime meanwhile.
final class CheckpointRealRuncTests: XCTestCase {
    func testCheckpointAndRestoreACountingContainer() throws {
        let criu = CRIU.check()
        guard criu.works else {
            throw XCTSkip("criu check fails on this kernel, so runc cannot checkpoint: \(criu.output)")
        }
        let first = try ShimHarness(self, name: "criu")
        let bundle = try BusyboxBundle.make(in: first.dir, args: ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"])
        try first.create(bundle)
        _ = try first.start()
        XCTAssertTrue(try first.eventually { try first.logText().contains("tick 3\n") })

        let image = first.dir + "/checkpoint"
        let checkpointed: Ocishim_V1_CheckpointResponse = try first.call("Checkpoint", Ocishim_V1_CheckpointRequest.with { $0.imagePath = image })
        XCTAssertEqual(checkpointed.status, .stopped)
        XCTAssertTrue(try first.state().checkpointed)
        XCTAssertTrue(FileManager.default.fileExists(atPath: image + "/inventory.img"), "CRIU wrote its images")
        let lastTick = try XCTUnwrap(first.logText().split(separator: "\n").last.flatMap { Int($0.split(separator: " ").last ?? "") })
        let _: Ocishim_V1_DeleteResponse = try first.call("Delete", Ocishim_V1_DeleteRequest())

        let shim = try ShimHarness(self, id: first.id)
        let restored = try shim.create(bundle) { $0.restore.imagePath = image }
        XCTAssertEqual(restored.status, .running)
        XCTAssertEqual(try shim.state(refresh: true).status, .running)
        // The restored shell counts on from where it was, into the new shim's log.
        let counted = try shim.eventually { try shim.logText().contains("tick \(lastTick + 2)\n") }
        XCTAssertTrue(counted, (try? shim.logText()) ?? "no log")
        XCTAssertFalse(try shim.logText().contains("tick 1\n"), "restored, not restarted")
        let stopped: Ocishim_V1_StopResponse = try shim.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = 1 })
        XCTAssertEqual(stopped.exitCode, 137)
        XCTAssertFalse(try shim.wait().checkpointed)
    }
}
