import Foundation
import ShimProtocol
import XCTest

/// The k8s-file log with both streams at full speed: every line of each
/// stream arrives once, whole, in order, and no record mixes stdout with
/// stderr, whatever the reads cut (long lines span several reads and
/// batches; short ones share a write). Only lines longer than the log's
/// hold (16 KiB, K8sFileSink.holdCapacity) are split into P records.
final class LogUnderLoadTests: XCTestCase {
    static let holdCapacity = 16 << 10

    /// Lines per stream; every 4000th is 300 kB long (longer than a read),
    /// the others 0 to 1499 bytes after their "<stream> <n> " head, so both
    /// the copied and the in-place paths of the log batch are taken.
    static let linesPerStream = 12_000

    /// The same generator as the container's awk program.
    static func expectedLine(_ stream: String, _ n: Int) -> String {
        "\(stream) \(n) " + String(repeating: "x", count: n % 4000 == 3999 ? 300_000 : (n * 37) % 1500)
    }

    func testBothStreamsUnderLoadArriveWholeInOrderAndUnmixed() throws {
        let shim = try ShimHarness(self)
        // One line: Scripts/make-bundle does not escape newlines for JSON.
        let awk = "awk -v s=\"$1\" -v n=\(Self.linesPerStream) 'BEGIN { pad = \"x\"; while (length(pad) < 300000) pad = pad pad; "
            + "for (i = 0; i < n; i++) printf \"%s %d %s\\n\", s, i, substr(pad, 1, i % 4000 == 3999 ? 300000 : (i * 37) % 1500) }'"
        let script = "gen() { \(awk); }; gen out & gen err >&2; wait"
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", script])
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 0)
        XCTAssertEqual(try shim.state().logError, "")

        let records = try Self.records(of: shim.logPath)
        var lines: [String: [String]] = ["stdout": [], "stderr": []]
        var partial: [String: String] = [:]
        var lastTimestamp = ""
        var splitShortLines = 0
        for record in records {
            // A reader sees the file in write order; timestamps are taken per
            // read, so they never go back.
            XCTAssertGreaterThanOrEqual(record.timestamp, lastTimestamp)
            lastTimestamp = record.timestamp
            guard lines[record.stream] != nil else {
                XCTFail("a record of unknown stream \(record.stream)")
                continue
            }
            let text = partial[record.stream, default: ""] + record.content
            if record.complete {
                if partial[record.stream] != nil && text.utf8.count < Self.holdCapacity { splitShortLines += 1 }
                lines[record.stream]!.append(text)
                partial[record.stream] = nil
            } else {
                partial[record.stream] = text
            }
        }
        XCTAssertEqual(partial, [:], "a stream ended on an unfinished line")
        XCTAssertEqual(splitShortLines, 0, "lines shorter than the hold were split into P records")
        for (stream, tag) in [("stdout", "out"), ("stderr", "err")] {
            let got = lines[stream]!
            XCTAssertEqual(got.count, Self.linesPerStream, "\(stream): lines lost or added")
            for (n, line) in got.enumerated() where line != Self.expectedLine(tag, n) {
                XCTFail("\(stream) line \(n) is \(line.prefix(40))… (\(line.utf8.count) bytes), expected \(Self.expectedLine(tag, n).prefix(40))…")
                break
            }
        }
    }

    /// 100-byte lines from busybox `cat` of a file (sendfile into the pipe,
    /// as much as fits), so that nearly every read of the shim ends inside a
    /// line: still one F record per line, no P record (conmon writes one P
    /// record per read that ends inside a line; before the hold, so did the
    /// shim).
    func testShortLinesCutByEveryReadAreNeverSplit() throws {
        let shim = try ShimHarness(self)
        let count = 200_000
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/cat", "/lines.txt"])
        let pad = " " + String(repeating: "x", count: 91)
        let expected = (0..<count).map { n in
            String(String(n).reversed()).padding(toLength: 7, withPad: "0", startingAt: 0).reversed() + pad
        }
        try Data(expected.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: bundle.rootfs + "/lines.txt"))
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 0)

        let records = try Self.records(of: shim.logPath)
        XCTAssertEqual(records.filter { !$0.complete }.count, 0, "P records")
        XCTAssertEqual(records.count, count)
        for (n, record) in records.enumerated() where n >= count || record.content != expected[n] || record.stream != "stdout" {
            XCTFail("record \(n) is \(record.stream) \(record.content.prefix(20))…")
            break
        }
    }

    /// A prompt without a newline reaches the log while the container waits
    /// (at the hold's deadline, ContainerLogger.flushDelayNanos), as a P
    /// record, not only when the container ends.
    func testAPromptWithoutNewlineReachesTheLogWhileTheContainerWaits() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "echo ready; printf 'name? '; exec sleep 60"])
        try shim.create(bundle)
        _ = try shim.start()
        let shown = shim.eventually(10) {
            ((try? Self.records(of: shim.logPath)) ?? []).contains { !$0.complete && $0.content == "name? " }
        }
        XCTAssertTrue(shown, "the prompt is not in the log: \((try? shim.logText()) ?? "")")
        XCTAssertEqual(try shim.logText(), "ready\nname? ")
    }

    /// A last line without a newline is in the log when the exit is
    /// reported, even while a process that outlived the init holds the
    /// output open (no pid namespace: nothing kills it with the init).
    func testAnUnfinishedLastLineIsLoggedBeforeTheExitIsReported() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "sleep 3 & printf 'bye'; exit 4"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            let namespaces = linux["namespaces"] as? [[String: Any]] ?? []
            linux["namespaces"] = namespaces.filter { $0["type"] as? String != "pid" }
            config["linux"] = linux
        }
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 4)
        let records = try Self.records(of: shim.logPath)
        XCTAssertEqual(records.map { "\($0.stream) \($0.complete ? "F" : "P") \($0.content)" }, ["stdout P bye"])
    }

    struct Record {
        var timestamp: String
        var stream: String
        var complete: Bool
        var content: String
    }

    /// "<timestamp> <stream> <F|P> <content>" per line of the file.
    static func records(of path: String) throws -> [Record] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var out: [Record] = []
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count >= 3 else { throw TestSupport.SupportError("malformed record: \(String(decoding: line.prefix(80), as: UTF8.self))") }
            out.append(Record(timestamp: String(decoding: fields[0], as: UTF8.self),
                              stream: String(decoding: fields[1], as: UTF8.self),
                              complete: fields[2].elementsEqual("F".utf8),
                              content: fields.count == 4 ? String(decoding: fields[3], as: UTF8.self) : ""))
        }
        return out
    }
}
