import Foundation
import Glibc
import XCTest

/// `ocictl checkpoint` and `ocictl restore` end to end: ocictl spawns the
/// shims, a real runc container is checkpointed through the fake runtime's
/// checkpoint, and restored by its restore (CRIU cannot run here).
final class OcictlCheckpointTests: XCTestCase {
    private func ocictl(_ arguments: [String]) throws -> ProgramRun {
        let run = try ProgramRun.ocictl(arguments)
        XCTAssertTrue(run.reachedEOF, "ocictl \(arguments.joined(separator: " ")): its output did not reach EOF")
        return run
    }

    func testCheckpointThenRestoreWithOcictl() throws {
        let dir = try TestSupport.makeTemporaryDirectory(prefix: "ocictl-ckpt", for: self)
        let fake = try FakeRuntime.install(in: dir)
        let root = dir + "/root"
        let id = "ocictl-ckpt-\(getpid())"
        let shim = try TestSupport.ocishim()
        let bundle = try BusyboxBundle.make(in: dir, args: ["/bin/sh", "-c", "echo before; exec sleep 1000"])
        let image = dir + "/image"
        let work = dir + "/work"
        let log = root + "/\(id)/ctr.log"
        addTeardownBlock {
            try? fake.release()
            if let pid = fake.processPid(of: id) { kill(pid, SIGKILL) }
            _ = try? TestSupport.run(FakeRuntime.realRunc, ["delete", "--force", id])
            if let text = try? String(contentsOfFile: root + "/\(id)/shim.pid", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGKILL)
            }
        }
        let common = ["--state-root", root]
        let createOptions = ["--runtime", fake.path, "--shim", shim, "-b", bundle.path]

        let created = try ocictl(["create"] + common + createOptions + [id])
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual(try ocictl(["start"] + common + [id]).status, 0)
        XCTAssertTrue(TestSupport.eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("before") })

        let missing = try ocictl(["checkpoint"] + common + [id])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("missing --image-path"), missing.stderr)

        // Leaving it running, with every option.
        let kept = try ocictl(["checkpoint"] + common + ["--image-path", image, "--work-path", work, "--leave-running",
                                                         "--tcp-established", "--file-locks", id])
        XCTAssertEqual(kept.status, 0, kept.stderr)
        XCTAssertEqual(kept.stdout, "running\n")
        XCTAssertEqual(fake.lastInvocation(of: "checkpoint"),
                       ["checkpoint", "--image-path", image, "--work-path", work, "--leave-running",
                        "--tcp-established", "--file-locks", id])

        // Stopping it.
        let stopped = try ocictl(["checkpoint"] + common + ["--image-path", image, id])
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        XCTAssertEqual(stopped.stdout, "stopped\n")
        XCTAssertEqual(fake.lastInvocation(of: "checkpoint"), ["checkpoint", "--image-path", image, "--work-path", bundle.path, id])
        let state = try ocictl(["state"] + common + [id])
        XCTAssertTrue(state.stdout.contains("status:   stopped"), state.stdout)
        XCTAssertTrue(state.stdout.contains("exit:     137 (checkpointed)"), state.stdout)

        let support = try ocictl(["checkpoint", "--supported"] + common + [id])
        XCTAssertTrue(support.stdout.contains("runtime: supports checkpoint"), support.stdout)
        let criu = CRIU.check()
        XCTAssertEqual(support.status, criu.works ? 0 : 1)
        XCTAssertTrue(support.stdout.contains(criu.works ? "criu:    works" : "criu:    does not work: "), support.stdout)

        // Restore needs the checkpointed container gone first.
        let restoreArgs = ["restore"] + common + createOptions + ["--image-path", image, "--tcp-established", id]
        let early = try ocictl(restoreArgs)
        XCTAssertEqual(early.status, 1)
        XCTAssertTrue(early.stderr.contains("still exists"), early.stderr)
        XCTAssertEqual(try ocictl(["rm"] + common + [id]).status, 0)

        try fake.write("restore-exit", "5")
        let restored = try ocictl(restoreArgs)
        XCTAssertEqual(restored.status, 0, restored.stderr)
        let pid = try XCTUnwrap(fake.processPid(of: id))
        XCTAssertEqual(restored.stdout, "\(pid)\n")
        XCTAssertEqual(fake.lastInvocation(of: "restore"),
                       ["restore", "--detach", "--bundle", bundle.path, "--pid-file", root + "/\(id)/pidfile",
                        "--image-path", image, "--work-path", bundle.path, "--tcp-established", id])
        XCTAssertTrue(try ocictl(["state"] + common + [id]).stdout.contains("status:   running"))
        XCTAssertTrue(TestSupport.eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("stderr F restored err 3") })

        try fake.release()
        let waited = try ocictl(["wait"] + common + [id])
        XCTAssertEqual(waited.stdout, "5\n", waited.stderr)
        XCTAssertEqual(try ocictl(["rm"] + common + [id]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/\(id)"))
    }
}
