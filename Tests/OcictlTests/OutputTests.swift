import Foundation
import ShimClient
import ShimProtocol
import ShimSystem
import XCTest
@testable import ocictl

/// What ocictl prints for machines and people: runc-shaped state, times,
/// sizes, log lines, exit statuses.
final class OutputTests: XCTestCase {
    private static let runcKeys = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations"]

    func testStateJSONHasRuncsFieldsFirstAndEveryFieldAlways() throws {
        var state = Ocishim_V1_StateResponse()
        state.id = "c1"
        state.status = .stopped
        state.exitCode = 0
        state.pid = 42
        state.createdAt = 1_796_610_888_616_454_596
        let view = StateView(state, shimPid: 7)
        let keys = try XCTUnwrap(view.json.objectValue).map(\.0)
        XCTAssertEqual(Array(keys.prefix(Self.runcKeys.count)), Self.runcKeys)
        XCTAssertEqual(view.json["status"]?.stringValue, "stopped", "lowercase, as runc's")
        XCTAssertEqual(view.json["exitCode"]?.intValue, 0, "an exit code of 0 is printed")
        XCTAssertEqual(view.json["created"]?.stringValue, "2026-12-07T02:34:48.616454596Z")
        XCTAssertEqual(view.json["startedAt"]?.stringValue, TimeText.never)

        var running = state
        running.status = .running
        let live = StateView(running, shimPid: 7).json
        XCTAssertEqual(try XCTUnwrap(live.objectValue).map(\.0), keys, "the same fields in every state")
        XCTAssertEqual(live["exitCode"], JSONValue.null, "no exit yet: null, not absent")
        // The text is valid JSON for other tools.
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(live.pretty.utf8)))
    }

    func testTimesRoundTripAsRFC3339() throws {
        let nanos: Int64 = 1_796_610_888_000_000_123
        let text = TimeText.rfc3339(nanos: nanos)
        XCTAssertEqual(text, "2026-12-07T02:34:48.000000123Z")
        XCTAssertEqual(TimeText.parseRFC3339(text), nanos)
        XCTAssertEqual(TimeText.parseRFC3339("2026-12-07T03:34:48.5+01:00"), 1_796_610_888_500_000_000)
        XCTAssertEqual(TimeText.parseRFC3339("2026-12-07T02:34:48Z"), 1_796_610_888_000_000_000)
        XCTAssertNil(TimeText.parseRFC3339("2026-12-07"))
        XCTAssertNil(TimeText.parseRFC3339("yesterday"))
        XCTAssertEqual(TimeText.parseDuration("1h30m"), 5_400_000_000_000)
        XCTAssertEqual(TimeText.parseDuration("90s"), 90_000_000_000)
        XCTAssertNil(TimeText.parseDuration("10"))
        XCTAssertEqual(Logs.sinceNanos("10m", now: 1_000_000_000_000), 400_000_000_000)
        XCTAssertEqual(Logs.sinceNanos("1796610888", now: 0), 1_796_610_888_000_000_000)
    }

    func testSizesAsRuncTakesThem() {
        XCTAssertEqual(ByteSize.parse("256m"), 256 << 20)
        XCTAssertEqual(ByteSize.parse("1G"), 1 << 30)
        XCTAssertEqual(ByteSize.parse("512kb"), 512 << 10)
        XCTAssertEqual(ByteSize.parse("100"), 100)
        XCTAssertEqual(ByteSize.parse("10b"), 10)
        XCTAssertEqual(ByteSize.parse("-1"), -1)
        XCTAssertNil(ByteSize.parse("lots"))
        XCTAssertNil(ByteSize.parse("99999999999999g"))
    }

    private func record(_ time: String, _ stream: String, _ tag: String, _ content: String) -> LogRecord {
        LogRecord(Array("\(time) \(stream) \(tag) \(content)".utf8)[...])!
    }

    func testTailCountsWholeLines() {
        let records = [
            record("2026-12-07T02:00:01Z", "stdout", "F", "one"),
            record("2026-12-07T02:00:02Z", "stdout", "P", "tw"),
            record("2026-12-07T02:00:03Z", "stderr", "F", "err"),
            record("2026-12-07T02:00:04Z", "stdout", "F", "o"),
            record("2026-12-07T02:00:05Z", "stdout", "F", "three"),
        ]
        XCTAssertEqual(LogLines.last(2, of: records, since: nil).map { String(decoding: $0.content, as: UTF8.self) },
                       ["tw", "o", "three"], "a line split into P and F records is one line")
        XCTAssertEqual(LogLines.last(0, of: records, since: nil), [])
        XCTAssertEqual(LogLines.last(10, of: records, since: nil).count, 5)
        let since = TimeText.parseRFC3339("2026-12-07T02:00:04Z")
        XCTAssertEqual(LogLines.last(10, of: records, since: since).map { String(decoding: $0.content, as: UTF8.self) },
                       ["o", "three"])
    }

    func testExitStatusesAsPodmansAndMessagesWithoutCodeNames() {
        let notFound = ClientError.rpc(RPCError(.notFound, "exec: \"x\": not found", reason: RPCReason.commandNotFound))
        XCTAssertEqual(Failure(notFound).exitCode, 127)
        let notExecutable = ClientError.rpc(RPCError(.permissionDenied, "denied", reason: RPCReason.commandNotExecutable))
        XCTAssertEqual(Failure(notExecutable).exitCode, 126)
        let precondition = ClientError.rpc(RPCError(.failedPrecondition, "cannot start container c1: it is running"))
        XCTAssertEqual(Failure(precondition).exitCode, 1)
        XCTAssertEqual(Failure(precondition).message, "cannot start container c1: it is running")
        let wrapped = CLIError("exec in c1", notFound)
        XCTAssertEqual(wrapped.exitCode, 127)
        XCTAssertEqual(wrapped.description, "exec in c1: exec: \"x\": not found")
        for code in RPCCode.allCases where code != .ok {
            XCTAssertFalse(Failure(ClientError.rpc(RPCError(code, "m"))).message.contains(code.name))
        }
    }
}
