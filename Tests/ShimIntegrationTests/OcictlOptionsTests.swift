import Foundation
import Glibc
import XCTest

/// The names and options runc, ctr and podman users reach for (issue 14,
/// item 6), on real runc.
final class OcictlOptionsTests: XCTestCase {
    private var fx: OcictlFixture!

    override func setUpWithError() throws {
        fx = try OcictlFixture(self, prefix: "ocictl-opt")
    }

    private func plain(_ arguments: [String], environment: [String: String] = [:]) throws -> ProgramRun {
        try ProgramRun.run(try TestSupport.ocictl(), arguments, environment: environment, seconds: 60)
    }

    /// The global --root before the command, $OCICTL_ROOT, and --state-root
    /// after it all name the same root.
    func testTheRootGlobalByEnvironmentOrAfterTheCommand() throws {
        let id = fx.newID("root")
        try fx.start(id, try fx.bundle(["/bin/sleep", "1000"]))
        XCTAssertEqual(try plain(["--root", fx.root, "ps", "-q"]).stdout, id + "\n")
        XCTAssertEqual(try plain(["--root=\(fx.root)", "ps", "-q"]).stdout, id + "\n")
        XCTAssertEqual(try plain(["ps", "-q"], environment: ["OCICTL_ROOT": fx.root]).stdout, id + "\n")
        XCTAssertEqual(try plain(["ps", "--root", fx.root, "-q"]).stdout, id + "\n")
        XCTAssertEqual(try plain(["ps", "--state-root", fx.root, "-q"]).stdout, id + "\n")
        XCTAssertEqual(try plain(["--root", fx.root, "delete", "--force", id]).status, 0, "delete: rm")
        try fx.assertGone(id, "after delete --force")
    }

    func testRuntimeRootReachesTheRuntime() throws {
        let id = fx.newID("rtroot")
        let runtimeRoot = fx.dir + "/runc-root"
        let created = try plain(["--root", fx.root, "--runtime-root", runtimeRoot, "create",
                                 "--bundle", try fx.bundle(["/bin/sleep", "1000"]).path, id])
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual(try ProgramRun.run(OcictlFixture.runc, ["--root", runtimeRoot, "state", id]).status, 0,
                       "runc keeps the container under the given root")
        XCTAssertFalse(try fx.runcKnows(id), "and not under its default one")
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
        XCTAssertNotEqual(try ProgramRun.run(OcictlFixture.runc, ["--root", runtimeRoot, "state", id]).status, 0)
    }

    func testVersionHelpAndDidYouMean() throws {
        let version = try plain(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.stdout.hasPrefix("ocictl "), version.stdout)
        let typo = try plain(["stat", "c1"])
        XCTAssertNotEqual(typo.status, 0)
        XCTAssertTrue(typo.stderr.contains("unknown command \"stat\"; did you mean \"start\" or \"state\"?"), typo.stderr)
        let completion = try plain(["--generate-completion-script", "bash"])
        XCTAssertEqual(completion.status, 0)
        XCTAssertTrue(completion.stdout.contains("_ocictl"), String(completion.stdout.prefix(200)))
        XCTAssertTrue(try plain(["--help"]).stdout.contains("--generate-completion-script"), "documented in the help")
    }

    /// kill -s/--signal and several ids; rm of several ids.
    func testKillAndRmTakeSeveralIds() throws {
        let bundle = try fx.bundle(["/bin/sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done"])
        let ids = [fx.newID("many"), fx.newID("many")]
        for id in ids { try fx.start(id, bundle) }
        let killed = try fx.ocictl(["kill", "-s", "USR1"] + ids)
        XCTAssertEqual(killed.status, 0, killed.stderr)
        for id in ids { XCTAssertEqual(try fx.ocictl("wait", id).stdout, "42\n") }
        let partly = try fx.ocictl(["rm"] + ids + ["nosuchcontainer"])
        XCTAssertEqual(partly.status, 1)
        XCTAssertTrue(partly.stderr.contains("rm nosuchcontainer: container nosuchcontainer does not exist"), partly.stderr)
        for id in ids { try fx.assertGone(id, "after rm of several ids") }
    }

    /// update changes the running container's cgroup (runc update).
    func testUpdateSetsResources() throws {
        let id = fx.newID("update")
        try fx.start(id, try fx.bundle(["/bin/sleep", "1000"]))
        let updated = try fx.ocictl("update", "--pids-limit", "42", "--memory", "64m", id)
        XCTAssertEqual(updated.status, 0, updated.stderr)
        let pids = try fx.ocictl("exec", id, "cat", "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max")
        XCTAssertTrue(pids.stdout.contains("42\n"), "the container's pids limit: \(pids.stdout) \(pids.stderr)")
        let nothing = try fx.ocictl("update", id)
        XCTAssertEqual(nothing.status, 1)
        XCTAssertTrue(nothing.stderr.contains("nothing to update"), nothing.stderr)
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }

    /// exec --detach prints a session id; attach --exec-id gets back into
    /// it, and reports the exit of one that has ended.
    func testExecDetachAndAttachByExecID() throws {
        let id = fx.newID("execd")
        try fx.start(id, try fx.bundle(["/bin/sleep", "1000"]))
        let started = try fx.ocictl("exec", "-d", "-i", id, "sh", "-c", "read line; echo got:$line; exit 3")
        XCTAssertEqual(started.status, 0, started.stderr)
        let session = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(session.isEmpty)
        XCTAssertTrue(try fx.ocictl("state", id).stdout.contains(session), "listed as a session of the container")
        let attached = try fx.ocictl(["attach", "--exec-id", session, id], stdin: "hello\n")
        XCTAssertEqual(attached.status, 3, attached.stderr)
        XCTAssertEqual(attached.stdout, "got:hello\n")

        let quick = try fx.ocictl("exec", "--detach", "--exec-id", "quick", id, "sh", "-c", "exit 4")
        XCTAssertEqual(quick.stdout, "quick\n", quick.stderr)
        XCTAssertTrue(TestSupport.eventually { !((try? self.fx.ocictl("state", id).stdout) ?? "").contains("quick") })
        let late = try fx.ocictl("attach", "--exec-id", "quick", id)
        XCTAssertEqual(late.status, 4, "the exit of a session that has ended: \(late.stderr)")
        let again = try fx.ocictl("attach", "--exec-id", "quick", id)
        XCTAssertEqual(again.status, 1, "cleaned up after it was reported")
        XCTAssertTrue(again.stderr.contains("no exec session quick"), again.stderr)
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }
}
