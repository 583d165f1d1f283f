import XCTest
@testable import ShimCore

final class DetachKeysTests: XCTestCase {
    func testPodmanSyntax() throws {
        XCTAssertEqual(try DetachKeys.parse("ctrl-p,ctrl-q").bytes, [0x10, 0x11])
        XCTAssertEqual(try DetachKeys.parse(DetachKeys.defaultSpec), DetachKeys.default)
        XCTAssertEqual(try DetachKeys.parse("ctrl-a,d").bytes, [0x01, 0x64])
        XCTAssertEqual(try DetachKeys.parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").bytes, [0, 27, 28, 29, 30, 31])
        XCTAssertEqual(try DetachKeys.parse("ctrl-Z,DEL,q").bytes, [26, 127, 0x71])
        XCTAssertEqual(try DetachKeys.parse("").bytes, [], "empty disables detaching")
        XCTAssertFalse(try DetachKeys.parse("").isEnabled)
    }

    func testInvalidSpecsAreClearErrors() {
        for spec in ["ctrl-1", "ctrl-", "ctrlp", "ctrl-p,", ",", "ab", "ctrl-p,ctrl-qq", "ctrl-é"] {
            XCTAssertThrowsError(try DetachKeys.parse(spec), spec) { error in
                let e = error as! CoreError
                XCTAssertEqual(e.kind, .invalidArgument, spec)
                XCTAssertTrue(e.message.contains("invalid detach keys \"\(spec)\""), e.message)
            }
        }
    }

    func testMatcherAcrossChunks() {
        var m = DetachKeyMatcher(keys: .default)
        XCTAssertEqual(m.feed([0x61, 0x10]).forward, [0x61], "ctrl-p is held back")
        let r = m.feed([0x11, 0x62])
        XCTAssertTrue(r.detached)
        XCTAssertEqual(r.forward, [])
    }

    func testMatcherPassesOnAFalseStart() {
        var m = DetachKeyMatcher(keys: .default)
        XCTAssertEqual(m.feed([0x10]).forward, [])
        let r = m.feed([0x78, 0x10, 0x10])
        XCTAssertFalse(r.detached)
        XCTAssertEqual(r.forward, [0x10, 0x78, 0x10], "the second ctrl-p may start the sequence")
        XCTAssertTrue(m.feed([0x11]).detached)
    }

    func testMatcherOverlappingSequence() {
        // ctrl-p,ctrl-p,ctrl-q typed as p p p q: the first p is passed on.
        var m = DetachKeyMatcher(keys: DetachKeys(bytes: [0x10, 0x10, 0x11]))
        let r = m.feed([0x10, 0x10, 0x10, 0x11])
        XCTAssertTrue(r.detached)
        XCTAssertEqual(r.forward, [0x10])
    }

    func testMatcherFlushAndDisabledKeys() {
        var m = DetachKeyMatcher(keys: .default)
        XCTAssertEqual(m.feed([0x10]).forward, [])
        XCTAssertEqual(m.flush(), [0x10], "held bytes go on when the input ends")
        var none = DetachKeyMatcher(keys: .none)
        let r = none.feed([0x10, 0x11])
        XCTAssertEqual(r.forward, [0x10, 0x11])
        XCTAssertFalse(r.detached)
    }
}

final class ControlLineTests: XCTestCase {
    func testConmonControlLines() {
        XCTAssertEqual(try ControlCommand.parseControl("1 24 80").get(), .resize(rows: 24, columns: 80))
        XCTAssertEqual(try ControlCommand.parseControl("1  0 1000 ").get(), .resize(rows: 0, columns: 1000))
        XCTAssertEqual(try ControlCommand.parseControl("2 0 0").get(), .reopenLog)
        XCTAssertEqual(try ControlCommand.parseWindowSize("50 132").get(), .resize(rows: 50, columns: 132))
    }

    func testMalformedLinesAreRejectedWithAReason() {
        let cases: [(String, String)] = [
            ("", "malformed"), ("1 24", "malformed"), ("1 24 80 9", "malformed"), ("x 24 80", "malformed"),
            ("3 24 80", "invalid control message type 3"), ("1 1001 80", "between 0 and 1000"),
            ("1 -1 80", "between 0 and 1000"), ("1 99999999999999999999 1", "malformed"),
        ]
        for (line, reason) in cases {
            guard case .failure(let error) = ControlCommand.parseControl(line) else { XCTFail(line); continue }
            XCTAssertTrue(error.description.contains(reason), "\(line): \(error)")
        }
        guard case .failure = ControlCommand.parseWindowSize("1 2 3") else { return XCTFail() }
        guard case .failure = ControlCommand.parseWindowSize("2000 2") else { return XCTFail() }
    }
}

final class OutputBacklogTests: XCTestCase {
    private func append(_ b: inout OutputBacklog, _ stream: LogStream, _ text: String) {
        Array(text.utf8).withUnsafeBytes { b.append(stream, $0) }
    }

    func testKeepsTheNewestBytesInOrderAndCountsTheRest() {
        var b = OutputBacklog(capacity: 10)
        append(&b, .stdout, "abc")
        append(&b, .stderr, "def")
        append(&b, .stdout, "ghijk")
        let (chunks, dropped) = b.take()
        XCTAssertEqual(dropped, 1)
        XCTAssertEqual(chunks.map { String(decoding: $0.bytes, as: UTF8.self) }, ["bc", "def", "ghijk"])
        XCTAssertEqual(chunks.map(\.stream), [.stdout, .stderr, .stdout])
        XCTAssertTrue(b.isEmpty)
    }

    func testOneHugeChunkAndMergedSmallOnes() {
        var b = OutputBacklog(capacity: 4)
        append(&b, .stdout, "0123456789")
        XCTAssertEqual(b.byteCount, 4)
        XCTAssertEqual(b.droppedBytes, 6)
        var m = OutputBacklog(capacity: 100)
        for _ in 0..<50 { append(&m, .stdout, "x") }
        XCTAssertEqual(m.chunks.count, 1, "small writes merge")
    }
}

final class LogTailTests: XCTestCase {
    func testRecordsBecomeChunks() {
        let log = """
            2026-01-01T00:00:00.000000000+00:00 stdout F one
            2026-01-01T00:00:00.000000000+00:00 stdout P par
            2026-01-01T00:00:00.000000000+00:00 stdout F tial
            2026-01-01T00:00:00.000000000+00:00 stderr F
            garbage
            2026-01-01T00:00:00.000000000+00:00 stdin F nope
            2026-01-01T00:00:00.000000000+00:00 stdout F two words here
            """
        let lines = Array(log.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let chunks = LogTail.parse(lines)
        XCTAssertEqual(chunks.map(\.stream), [.stdout, .stderr, .stdout])
        XCTAssertEqual(chunks.map { String(decoding: $0.bytes, as: UTF8.self) }, ["one\npartial\n", "\n", "two words here\n"])
    }
}
