import Foundation
import ShimClient
import ShimProtocol
import ShimTranscript
import XCTest

/// The transcripts under Tests/Transcripts against the real `ocishim`, and the
/// record -> replay loop (docs/TRANSCRIPTS.md).
final class TranscriptReplayTests: XCTestCase {
    static let transcripts = TestSupport.packageRoot.appendingPathComponent("Tests/Transcripts")

    private func transcriptFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Self.transcripts.path)
            .filter { $0.hasSuffix(".transcript") }
            .sorted()
            .map { Self.transcripts.appendingPathComponent($0).path }
    }

    func testEveryTranscriptReplaysGreen() throws {
        let replayer = TranscriptReplayer(shimPath: try TestSupport.ocishim())
        let files = try transcriptFiles()
        XCTAssertGreaterThanOrEqual(files.count, 4, "Tests/Transcripts lost its transcripts")
        for file in files {
            if let difference = replayer.replay(file: file) { XCTFail("\(difference)") }
        }
        XCTAssertEqual(liveReplayShims(), [], "a replay left its shim running")
    }

    func testTamperedTranscriptFailsNamingTheLine() throws {
        let text = try String(contentsOfFile: Self.transcripts.appendingPathComponent("bad-input.transcript").path, encoding: .utf8)
        var transcript = try Transcript(parsing: text)
        let index = try XCTUnwrap(transcript.steps.firstIndex {
            if case .expect(.error(_, RPCCode.invalidArgument.rawValue, _)) = $0.kind { true } else { false }
        })
        guard case .expect(.error(let id, _, let message)) = transcript.steps[index].kind else { return XCTFail() }
        transcript.steps[index].kind = .expect(.error(streamID: id, code: RPCCode.notFound.rawValue, message: message))
        let line = transcript.steps[index].line

        let replayer = TranscriptReplayer(shimPath: try TestSupport.ocishim())
        let difference = try XCTUnwrap(replayer.replay(transcript, name: "bad-input.transcript"))
        XCTAssertEqual(difference.line, line)
        let report = difference.description
        XCTAssertTrue(report.hasPrefix("bad-input.transcript:\(line): the answer on stream \(id) differs"), report)
        XCTAssertTrue(report.contains("\n- <- \(id) error NOT_FOUND "), report)
        XCTAssertTrue(report.contains("\n+ <- \(id) error INVALID_ARGUMENT "), report)
        XCTAssertEqual(liveReplayShims(), [], "a failed replay left its shim running")
    }

    /// A live session with good calls and bad input, recorded, replays green.
    /// With $OCISHIM_RECORD_DIR set, the recording is also written there.
    func testRecordedSessionReplaysGreen() throws {
        let shim = try TestSupport.ocishim()
        let stateDir = try TestSupport.makeTemporaryDirectory(prefix: "ocishim-record", for: self)
        let id = "record-\(getpid())"
        let output = ProcessInfo.processInfo.environment["OCISHIM_RECORD_DIR"].map { "\($0)/recorded-session.transcript" }
        let client = try ShimClient.spawn(shim: shim, arguments: ["--id", id, "--state-dir", stateDir, "--runtime", "runc"])
        defer { client.close() }
        let recorder = try TranscriptRecorder(recordingTo: output, shim: shim, id: id, stateDir: stateDir,
                                              serveArguments: ["--runtime", "runc"])
        recorder.attach(to: client.connection)
        let hello = try Ocishim_V1_HelloRequest.with { $0.client = "recorder" }.serializedBytes() as [UInt8]

        _ = try client.call("Hello", Ocishim_V1_HelloRequest.with { $0.client = "recorder" }, as: Ocishim_V1_HelloResponse.self)
        _ = try client.call("RuntimeInfo", Ocishim_V1_RuntimeInfoRequest(), as: Ocishim_V1_RuntimeInfoResponse.self)
        _ = try client.call("Capabilities", Ocishim_V1_CapabilitiesRequest(), as: Ocishim_V1_CapabilitiesResponse.self)
        // Oversized frame, data and all.
        let oversized = client.allocateStreamID()
        var frame: [UInt8] = []
        FrameHeader(length: UInt32(FrameHeader.maxDataLength + 1), streamID: oversized, type: .request).encode(into: &frame)
        try recorder.sendRaw(frame + [UInt8](repeating: 0, count: FrameHeader.maxDataLength + 1), on: client.connection)
        _ = try client.nextFrame(of: oversized, what: "oversized", timeoutSeconds: 10)
        // A payload that is not a HelloRequest; a method that does not exist.
        XCTAssertEqual(try client.callRaw("Hello", payload: [0x0a, 0x05, 0x61]).status.code, RPCCode.invalidArgument.rawValue)
        XCTAssertEqual(try client.callRaw("NoSuchMethod", payload: []).status.code, RPCCode.unimplemented.rawValue)
        // An even stream id and a re-used one, written directly.
        var request = Ttrpc_Request()
        request.service = ShimService.name
        request.method = "Hello"
        request.payload = .init(hello)
        for reused in [UInt32(100), 1] {
            try client.connection.send(Frame(streamID: reused, type: .request, payload: try request.serializedBytes()))
            _ = try client.nextFrame(of: reused, what: "stream \(reused)", timeoutSeconds: 10)
        }
        _ = try client.call("Shutdown", Ocishim_V1_ShutdownRequest.with { $0.force = true }, as: Ocishim_V1_ShutdownResponse.self)
        while try client.connection.receive(timeoutMillis: 10_000) != nil {}
        recorder.recordEOF()
        try recorder.close()

        let text = recorder.transcript.description
        for line in ["shim_pid: <pid>", "-> raw 00400001 00000007 01 00*4194306",
                     "<- 100 error INVALID_ARGUMENT \"StreamID must be odd for client initiated streams\"",
                     "<- 1 error INVALID_ARGUMENT \"StreamID cannot be re-used and must increment\"", "<- eof"] {
            XCTAssertTrue(text.contains(line), "the recording lacks `\(line)`:\n\(text)")
        }
        let replayed = TranscriptReplayer(shimPath: shim).replay(try Transcript(parsing: text), name: "recorded-session")
        XCTAssertNil(replayed, "\(replayed!)")
    }

    /// `ocictl version --record` writes a transcript `ocictl replay` accepts.
    func testOcictlRecordThenReplay() throws {
        let (shim, ocictl) = (try TestSupport.ocishim(), try TestSupport.ocictl())
        let file = try TestSupport.makeTemporaryDirectory(prefix: "ocictl-record", for: self) + "/version.transcript"
        let recorded = try TestSupport.run(ocictl, ["version", "--shim", shim, "--record", file])
        XCTAssertEqual(recorded.status, 0, recorded.output)
        let replayed = try TestSupport.run(ocictl, ["replay", "--shim", shim, file])
        XCTAssertEqual(replayed.status, 0, replayed.output)
        XCTAssertTrue(replayed.output.hasPrefix("ok "), replayed.output)

        let tampered = try String(contentsOfFile: file, encoding: .utf8).replacing("framing: \"ttrpc/1.2\"", with: "framing: \"grpc\"")
        try tampered.write(toFile: file, atomically: true, encoding: .utf8)
        let failed = try TestSupport.run(ocictl, ["replay", "--shim", shim, file])
        XCTAssertEqual(failed.status, 1, failed.output)
        XCTAssertTrue(failed.output.contains("-     framing: \"grpc\"\n+     framing: \"ttrpc/1.2\""), failed.output)
    }

    /// Shims of this test process's replays that are still alive (not zombies).
    private func liveReplayShims() -> [Int32] {
        let marker = "replay-\(getpid())-"
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
        return pids.filter { pid in
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains(marker),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { return false }
            return !stat[stat.index(after: close)...].hasPrefix(" Z")
        }
    }
}
