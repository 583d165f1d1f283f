import Foundation
import Glibc
import XCTest

/// `ocictl run` and `exec` as a runc or podman user expects them (issue 14,
/// items 1, 2, 3, 7, 8): attached stdio, signals forwarded with --rm still
/// honoured, exit codes, one message per failure. Real runc.
final class OcictlRunTests: XCTestCase {
    private var fx: OcictlFixture!

    override func setUpWithError() throws {
        fx = try OcictlFixture(self, prefix: "ocictl-run")
    }

    /// A container that says which signal it got and exits with 128+n.
    private func trappingBundle() throws -> BusyboxBundle {
        try fx.bundle(["/bin/sh", "-c",
                       "trap 'echo got-int; exit 130' INT; trap 'echo got-term; exit 143' TERM; "
                       + "echo ready; while true; do sleep 0.1; done"])
    }

    /// Item 1: SIGINT (ctrl-c) and SIGTERM to `ocictl run --rm` reach the
    /// container; ocictl exits with the container's code, and --rm removes it.
    func testSignalsToRunReachTheContainerAndRmIsHonoured() throws {
        let bundle = try trappingBundle()
        for (signal, word, code) in [(SIGINT, "got-int", Int32(130)), (SIGTERM, "got-term", Int32(143))] {
            let id = fx.newID("sig")
            let run = try BackgroundProgram(try TestSupport.ocictl(), fx.withRoot(["run", "--rm", "--bundle", bundle.path, id]))
            XCTAssertTrue(run.waitForOutput("ready\n"), "the container started: \(run.stdout) \(run.stderr)")
            kill(run.pid, signal)
            let (status, eof) = run.finish()
            XCTAssertTrue(eof)
            XCTAssertEqual(status, code, "ocictl exits with the container's code: \(run.stderr)")
            XCTAssertEqual(run.stdout, "ready\n\(word)\n")
            XCTAssertEqual(run.stderr, "")
            try fx.assertGone(id, "after signal \(signal) to run --rm")
        }
    }

    /// --no-sig-proxy: the signal is ocictl's, the container goes on.
    func testNoSigProxyKeepsTheSignal() throws {
        let id = fx.newID("nosig")
        let run = try BackgroundProgram(try TestSupport.ocictl(),
                                        fx.withRoot(["run", "--no-sig-proxy", "--bundle", try trappingBundle().path, id]))
        XCTAssertTrue(run.waitForOutput("ready\n"))
        kill(run.pid, SIGTERM)
        let (status, _) = run.finish()
        XCTAssertEqual(status, 15, "ocictl itself ended by SIGTERM")
        let state = try fx.ocictl("state", id)
        XCTAssertTrue(state.stdout.contains("status:   running"), state.stdout)
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }

    /// Item 2: `run -s` gives the container ocictl's stdin, its end included.
    func testRunAttachesStdin() throws {
        let id = fx.newID("stdin")
        let run = try fx.ocictl(["run", "-s", "--rm", "--bundle", try fx.bundle(["/bin/cat"]).path, id],
                                stdin: "hi\nthere\n", seconds: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, "hi\nthere\n")
        try fx.assertGone(id, "after run -s --rm")
    }

    /// Item 3: output comes through the attach, whatever the log driver;
    /// stdout and stderr stay apart.
    func testRunWithoutALogStillPrintsTheOutput() throws {
        let id = fx.newID("nolog")
        let bundle = try fx.bundle(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        let run = try fx.ocictl(["run", "--rm", "--log-driver", "none", "--bundle", bundle.path, id])
        XCTAssertEqual(run.status, 3, run.stderr)
        XCTAssertEqual(run.stdout, "out\n")
        XCTAssertEqual(run.stderr, "err\n")
        try fx.assertGone(id, "after run --rm --log-driver none")
    }

    /// Item 7: podman's exit codes for a command that is not found (127)
    /// or cannot be run (126), for exec and for run; the command's own code
    /// otherwise.
    func testExitCodesAsPodmans() throws {
        let id = fx.newID("codes")
        try fx.start(id, try fx.bundle(["/bin/sleep", "1000"]))
        let cases: [([String], Int32)] = [
            (["/no/such/binary"], 127), (["nosuchcommand"], 127), (["/etc/passwd"], 126), (["sh", "-c", "exit 5"], 5),
        ]
        for (command, code) in cases {
            let exec = try fx.ocictl(["exec", id] + command)
            XCTAssertEqual(exec.status, code, "exec \(command): \(exec.stderr)")
        }
        let missing = try fx.ocictl(["run", "--bundle", try fx.bundle(["/no/such/binary"]).path, fx.newID("missing")])
        XCTAssertEqual(missing.status, 127, missing.stderr)
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }

    /// Item 8: one line per failure, "ocictl: ...", no gRPC code names, and
    /// "a command that was not found" only when that is what happened.
    func testFailuresAreOneLineForAPerson() throws {
        let id = fx.newID("msg")
        let bundle = try fx.bundle(["/bin/sleep", "1000"])
        try fx.start(id, bundle)
        let codeNames = ["FAILED_PRECONDITION", "NOT_FOUND", "INVALID_ARGUMENT", "UNKNOWN:", "PERMISSION_DENIED", "Error:"]
        let failures = [
            try fx.ocictl("start", id),
            try fx.ocictl("exec", id, "/no/such/binary"),
            try fx.ocictl("exec", "-w", "/no/such/dir", id, "true"),
            try fx.ocictl("pause", "nosuchcontainer"),
        ]
        for failure in failures {
            XCTAssertNotEqual(failure.status, 0)
            XCTAssertTrue(failure.stderr.hasPrefix("ocictl: "), failure.stderr)
            XCTAssertEqual(failure.stderr.split(separator: "\n").count, 1, "one message: \(failure.stderr)")
            for name in codeNames { XCTAssertFalse(failure.stderr.contains(name), failure.stderr) }
        }
        XCTAssertTrue(failures[1].stderr.contains("a command that was not found"), failures[1].stderr)
        XCTAssertFalse(failures[2].stderr.contains("a command that was not found"), "a bad working directory: \(failures[2].stderr)")

        // A missing rootfs is not "a command that was not found" either.
        let noRootfs = try fx.bundle(["/bin/true"])
        try FileManager.default.removeItem(atPath: noRootfs.rootfs)
        let created = try fx.ocictl("create", "--bundle", noRootfs.path, fx.newID("norootfs"))
        XCTAssertEqual(created.status, 1)
        XCTAssertTrue(created.stderr.contains("rootfs"), created.stderr)
        XCTAssertFalse(created.stderr.contains("a command that was not found"), created.stderr)
        XCTAssertEqual(created.stderr.split(separator: "\n").count, 1, created.stderr)
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }
}
