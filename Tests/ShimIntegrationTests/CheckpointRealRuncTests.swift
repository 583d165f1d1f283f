import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// Checkpoint and restore with the real runc and CRIU, where `criu check`
/// passes. Debian 12's CRIU 3.17 cannot read this kernel's vDSO;
/// Scripts/install-criu then builds CRIU 4.1.1 from Debian's source, which
/// can. Where no working CRIU could be had, the test skips and prints what
/// CRIU said; CheckpointTests covers the shim's side with a fake runtime.
final class CheckpointRealRuncTests: XCTestCase {
    func testCheckpointAndRestoreACountingContainer() throws {
        let criu = CRIU.check()
        print("criu: \(CRIU.path)")
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

    /// Checkpoint with leave_running: the original keeps counting and dies on
    /// its own terms; a copy restored from the images in a new shim counts on
    /// from the moment of the dump, and its exit code (the shell's own, on
    /// SIGUSR1) flows through the new shim's Wait, State and exit file.
    func testLeaveRunningThenARestoredCopyExitsWithItsOwnCode() throws {
        let criu = CRIU.check()
        guard criu.works else {
            throw XCTSkip("criu check fails on this kernel, so runc cannot checkpoint: \(criu.output)")
        }
        let first = try ShimHarness(self, name: "criu-lr")
        let bundle = try BusyboxBundle.make(in: first.dir, args: [
            "/bin/sh", "-c", "trap 'echo got USR1; exit 7' USR1; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done",
        ])
        try first.create(bundle)
        _ = try first.start()
        XCTAssertTrue(try first.eventually { try first.logText().contains("tick 3\n") })

        let image = first.dir + "/checkpoint"
        let checkpointed: Ocishim_V1_CheckpointResponse = try first.call("Checkpoint", Ocishim_V1_CheckpointRequest.with {
            $0.imagePath = image
            $0.leaveRunning = true
        })
        XCTAssertEqual(checkpointed.status, .running)
        let ticksAtDump = try first.logText().components(separatedBy: "tick ").count - 1
        XCTAssertTrue(try first.eventually { try first.logText().components(separatedBy: "tick ").count - 1 > ticksAtDump + 2 },
                      "the original counts on after a leave-running checkpoint")
        XCTAssertEqual(try first.state(refresh: true).status, .running)
        let _: Ocishim_V1_KillResponse = try first.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = UInt32(SIGUSR1) })
        let firstExit = try first.wait()
        XCTAssertEqual(firstExit.exitCode, 7)
        XCTAssertFalse(firstExit.checkpointed, "it ended by itself, not by the checkpoint")
        let _: Ocishim_V1_DeleteResponse = try first.call("Delete", Ocishim_V1_DeleteRequest())

        let shim = try ShimHarness(self, id: first.id)
        let exitDir = shim.dir + "/exits"
        let restored = try shim.create(bundle) {
            $0.restore.imagePath = image
            $0.exitDir = exitDir
        }
        XCTAssertEqual(restored.status, .running)
        XCTAssertTrue(try shim.eventually { try shim.logText().contains("tick ") }, "the copy counts into the new shim's log")
        XCTAssertFalse(try shim.logText().contains("tick 1\n"), "restored, not restarted")
        let _: Ocishim_V1_KillResponse = try shim.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = UInt32(SIGUSR1) })
        let exit = try shim.wait()
        XCTAssertEqual(exit.exitCode, 7)
        XCTAssertTrue(try shim.logText().contains("got USR1\n"))
        XCTAssertEqual(try shim.state().exitCode, 7)
        XCTAssertEqual(try String(contentsOfFile: exitDir + "/" + shim.id, encoding: .utf8), "7")
    }
}
