import Foundation
import Glibc
import XCTest

/// ocictl's machine-readable output and its logs (issue 14, items 4 and 5),
/// compared with runc's own where runc has the same thing. Real runc.
final class OcictlOutputTests: XCTestCase {
    private var fx: OcictlFixture!

    override func setUpWithError() throws {
        fx = try OcictlFixture(self, prefix: "ocictl-out")
    }

    private func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// `state --json` has runc state's fields with runc's values (status
    /// lowercase, created in RFC 3339), and every field in every state:
    /// exitCode 0 included.
    func testStateJSONIsShapedLikeRuncState() throws {
        let id = fx.newID("json")
        let bundle = try fx.bundle(["/bin/sleep", "1000"])
        try fx.start(id, bundle)
        let ours = try XCTUnwrap(try json(try fx.ocictl("state", "--json", id).stdout) as? [String: Any])
        let runcState = try ProgramRun.run(OcictlFixture.runc, ["state", id], seconds: 30)
        let theirs = try XCTUnwrap(try json(runcState.stdout) as? [String: Any], runcState.stderr)
        for key in ["ociVersion", "id", "pid", "status", "bundle", "rootfs"] {
            XCTAssertEqual("\(ours[key] ?? "absent")", "\(theirs[key] ?? "absent")", key)
        }
        for key in theirs.keys { XCTAssertNotNil(ours[key], "runc's field \(key)") }
        XCTAssertEqual(ours["status"] as? String, "running")
        let created = try XCTUnwrap(ours["created"] as? String)
        XCTAssertTrue(RFC3339.matches(created), created)
        XCTAssertTrue(ours["exitCode"] is NSNull, "present, null while running")

        XCTAssertEqual(try fx.ocictl("kill", id, "KILL").status, 0)
        XCTAssertEqual(try fx.ocictl("wait", id).stdout, "137\n")
        let killed = try XCTUnwrap(try json(try fx.ocictl("state", "--json", id).stdout) as? [String: Any])
        XCTAssertEqual(killed["status"] as? String, "stopped")
        XCTAssertEqual(killed["exitCode"] as? Int, 137)
        XCTAssertEqual(Set(killed.keys), Set(ours.keys), "the same fields when stopped")

        let zero = fx.newID("zero")
        let run = try fx.ocictl("run", "--bundle", try fx.bundle(["/bin/true"]).path, zero)
        XCTAssertEqual(run.status, 0, run.stderr)
        let exited = try XCTUnwrap(try json(try fx.ocictl("state", "--json", zero).stdout) as? [String: Any])
        XCTAssertEqual(exited["exitCode"] as? Int, 0, "an exit code of 0 is there too")
        XCTAssertEqual(try fx.ocictl("rm", id, zero).status, 0)
    }

    /// `ps --format json`, `ps -q` and `list`; `events --format json`, one
    /// object per line.
    func testPsAndEventsForMachines() throws {
        let id = fx.newID("ps")
        try fx.start(id, try fx.bundle(["/bin/sleep", "1000"]))
        let rows = try XCTUnwrap(try json(try fx.ocictl("ps", "--format", "json").stdout) as? [[String: Any]])
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?["id"] as? String, id)
        XCTAssertEqual(rows.first?["status"] as? String, "running")
        XCTAssertTrue(rows.first?["exitCode"] is NSNull)
        XCTAssertEqual(try fx.ocictl("ps", "-q").stdout, id + "\n")
        XCTAssertEqual(try fx.ocictl("list", "-q").stdout, id + "\n")

        let events = try fx.ocictl("events", "--no-follow", "--format", "json", id)
        let lines = events.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, events.stdout)
        let parsed = try lines.map { try XCTUnwrap(try json(String($0)) as? [String: Any]) }
        XCTAssertEqual(parsed.map { $0["type"] as? String }, ["created", "started"])
        XCTAssertEqual(parsed.map { $0["seq"] as? Int }, [1, 2])
        XCTAssertTrue(parsed.allSatisfy { RFC3339.matches($0["time"] as? String ?? "") })
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }

    /// Each event line reaches a pipe (or file) as it happens, not when
    /// ocictl exits: a reader sees it while `ocictl events` still runs.
    func testEventLinesAreWrittenAsTheyHappen() throws {
        let id = fx.newID("flush")
        try fx.start(id, try fx.bundle(["/bin/sleep", "1000"]))
        let events = try BackgroundProgram(try TestSupport.ocictl(), fx.withRoot(["events", id]))
        XCTAssertTrue(events.waitForOutput(" started "), "the line arrived while ocictl runs: \(events.stdout)")
        XCTAssertTrue(events.process.isRunning)
        XCTAssertEqual(try fx.ocictl("kill", "-s", "KILL", id).status, 0)
        XCTAssertTrue(events.waitForOutput(" exited "), events.stdout)
        kill(events.pid, SIGKILL)
        _ = events.finish()
        XCTAssertEqual(try fx.ocictl("rm", id).status, 0)
    }

    /// The N of every "lineN" record in a k8s-file log.
    private static func loggedLineNumbers(_ path: String) throws -> [Int] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { record in
            let content = record.split(separator: " ", maxSplits: 3).last ?? ""
            return content.hasPrefix("line") ? Int(content.dropFirst(4)) : nil
        }
    }

    /// logs --tail, --timestamps, --since, and --follow from the end.
    func testLogsTailTimestampsSinceAndFollowFromTheEnd() throws {
        let id = fx.newID("logs")
        let bundle = try fx.bundle(["/bin/sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; "
                                    + "i=6; while [ ! -e /stop ]; do echo line$i; i=$((i+1)); sleep 0.2; done; echo last"])
        try fx.start(id, bundle)
        let logPath = fx.stateDir(id) + "/ctr.log"
        XCTAssertTrue(TestSupport.eventually { ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains("line7") })

        let tail = try fx.ocictl("logs", "--tail", "2", id)
        XCTAssertEqual(tail.stdout.split(separator: "\n").count + tail.stderr.split(separator: "\n").count, 2,
                       "\(tail.stdout)|\(tail.stderr)")
        XCTAssertEqual(try fx.ocictl("logs", "--tail", "0", id).stdout, "")
        let all = try fx.ocictl("logs", id)
        XCTAssertTrue(all.stdout.hasPrefix("line1\nline2\nline3\nline4\nline5\nline6\n"), all.stdout)
        XCTAssertEqual(all.stderr, "err\n")

        let stamped = try fx.ocictl("logs", "--timestamps", "--tail", "3", id)
        for line in stamped.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            XCTAssertEqual(parts.count, 2, String(line))
            XCTAssertTrue(RFC3339.matches(String(parts[0])), String(line))
            XCTAssertTrue(parts[1].hasPrefix("line"), String(line))
        }
        XCTAssertEqual(try fx.ocictl("logs", "--since", "2999-01-01T00:00:00Z", id).stdout, "", "nothing from the future")
        XCTAssertTrue(try fx.ocictl("logs", "--since", "1h", id).stdout.hasPrefix("line1\n"))

        // Follow from the end: nothing that was logged before ocictl started.
        let before = try Self.loggedLineNumbers(logPath).max() ?? 0
        let follow = try BackgroundProgram(try TestSupport.ocictl(), fx.withRoot(["logs", "-f", "--tail", "0", id]))
        XCTAssertTrue(follow.waitForOutput("line\(before + 3)\n"), "new lines are followed: \(follow.stdout)")
        _ = FileManager.default.createFile(atPath: bundle.rootfs + "/stop", contents: nil)
        let (status, eof) = follow.finish()
        XCTAssertTrue(eof)
        XCTAssertEqual(status, 0, follow.stderr)
        let seen = follow.stdout.split(separator: "\n").compactMap { $0.hasPrefix("line") ? Int($0.dropFirst(4)) : nil }
        XCTAssertTrue(seen.allSatisfy { $0 > before }, "started at the end (lines up to \(before) were there): \(seen)")
        XCTAssertTrue(follow.stdout.hasSuffix("last\n"), "followed to the exit: \(follow.stdout)")
        try? FileManager.default.removeItem(atPath: bundle.rootfs + "/stop")
        XCTAssertEqual(try fx.ocictl("rm", id).status, 0)
    }
}

/// RFC 3339 as runc and the k8s-file log write it.
enum RFC3339 {
    static func matches(_ text: String) -> Bool {
        text.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$"#, options: .regularExpression) != nil
    }
}
