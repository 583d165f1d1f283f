import Foundation
import ShimProtocol
import ShimTranscript
import SwiftProtobuf
import XCTest

/// The transcript model without a shim: text form, frames, normalization,
/// and the replay engine against a scripted peer.
final class TranscriptTests: XCTestCase {
    /// Every line kind, in canonical form.
    static let canonical = """
        # Every line kind.
        transcript 1
        serve --runtime runc --log-level debug "two words"
        timeout 5
        -> 1 Hello
            client: "${ID}"
        <- 1 ok
            shim_pid: <pid>
            methods: <list>

        # comment between steps
        -> 3 Events flags=closed timeout_nano=1000
            after_seq: 2
        <- 3 data
            seq: 3
            timestamp: <time>
        <- 3 data flags=closed
        <- 3 end
        <- 3 ok
        -> 5 Attach
        -> 5 data
            stdin: "hi\\n"
        -> 5 close
        -> 7 Hello service=no.such.Service
        -> 9 NoSuchMethod payload=0a0561
        -> 11 "data"
        -> 13 frame type=request flags=0x10 payload=ffff
        -> raw 00000003 00000001 01 00*21 01
        <- 13 error INVALID_ARGUMENT "it said \\"no\\""
        <- 15 frame type=7
        <- 17 ok payload=ff
        -> eof
        <- eof
        <- exit

        """

    // --- text form ------------------------------------------------------------------

    func testCanonicalTextRoundTrips() throws {
        let transcript = try Transcript(parsing: Self.canonical)
        XCTAssertEqual(TranscriptPrinter.text(transcript), Self.canonical)
        XCTAssertEqual(try Transcript(parsing: transcript.description), transcript)
    }

    func testParsedModel() throws {
        let transcript = try Transcript(parsing: Self.canonical)
        XCTAssertEqual(transcript.header.comments, ["Every line kind."])
        XCTAssertEqual(transcript.header.serveArguments, ["--runtime", "runc", "--log-level", "debug", "two words"])
        XCTAssertEqual(transcript.header.timeoutSeconds, 5)
        let first = try XCTUnwrap(transcript.steps.first)
        XCTAssertEqual(first.line, 5)
        XCTAssertEqual(first.kind, .send(.request(streamID: 1, method: "Hello", service: nil, flags: nil, timeoutNanos: 0,
                                                  body: .text(["client: \"${ID}\""]))))
        XCTAssertTrue(transcript.steps.contains { $0.kind == .send(.raw([0, 0, 0, 3, 0, 0, 0, 1, 1, 0] + [UInt8](repeating: 0, count: 20) + [1])) })
        XCTAssertTrue(transcript.steps.contains { $0.kind == .expect(.error(streamID: 13, code: 3, message: "it said \"no\"")) })
        XCTAssertTrue(transcript.steps.contains { $0.kind == .send(.request(streamID: 11, method: "data", service: nil, flags: nil, timeoutNanos: 0, body: .empty)) })
    }

    func testParseErrorsNameTheLine() {
        func error(_ text: String) -> TranscriptParseError? {
            do { _ = try Transcript(parsing: text); return nil } catch { return error }
        }
        XCTAssertEqual(error("-> 1 Hello\n")?.line, 1)
        XCTAssertEqual(error("transcript 2\n")?.message, "transcript format 2 is not supported (this build reads format 1)")
        XCTAssertEqual(error("transcript 1\n-> 1 Hello\n  client: \"x\"\n")?.line, 3)
        XCTAssertEqual(error("transcript 1\n<- 1 error INVALID_ARGUMENT\n")?.line, 2)
        XCTAssertEqual(error("transcript 1\n-> 1 Hello\nserve --runtime crun\n")?.message, "`serve` must come before the first frame")
        XCTAssertEqual(error("transcript 1\n<- 1 ok payload=xyz\n")?.line, 2)
        XCTAssertEqual(error("transcript 1\n<- 1 ok colour=blue\n")?.message, "unknown option colour= on this line")
        XCTAssertEqual(error("transcript 1\n<- 1 ok payload=00\n    x: 1\n")?.line, 2)
    }

    func testLongRunsPrintCompactly() {
        let send = TranscriptSend.raw([0, 0x40, 0, 1, 0, 0, 0, 3, 1] + [UInt8](repeating: 0, count: 4_194_306))
        XCTAssertEqual(TranscriptPrinter.lines(send), ["-> raw 00400001 00000003 01 00*4194306"])
    }

    // --- frames ---------------------------------------------------------------------

    func testSentFramesRoundTripThroughText() throws {
        var request = Ttrpc_Request()
        request.service = ShimService.name
        request.method = "Hello"
        request.payload = try Ocishim_V1_HelloRequest.with { $0.client = "x" }.serializedBytes()
        var odd = request
        odd.payload = .init([0x0a, 0x05, 0x61] as [UInt8])
        let frames: [Frame] = [
            Frame(streamID: 1, type: .request, payload: try request.serializedBytes()),
            Frame(streamID: 3, type: .request, flags: .remoteOpen, payload: try odd.serializedBytes()),
            Frame(streamID: 5, type: .request, payload: [0xff, 0xff]),
            Frame(streamID: 1, type: .data, payload: try Ocishim_V1_HelloRequest.with { $0.client = "y" }.serializedBytes()),
            Frame(streamID: 1, type: .data, flags: [.remoteClosed, .noData]),
            Frame(streamID: 9, rawType: 9, flags: [], payload: [1, 2]),
        ]
        var recorder = TranscriptFrames()
        var replayer = TranscriptFrames()
        for frame in frames {
            let send = recorder.describeSent(frame)
            let reparsed = try Transcript(parsing: "transcript 1\n" + TranscriptPrinter.lines(send).joined(separator: "\n"))
            guard case .send(let parsed)? = reparsed.steps.first?.kind else { return XCTFail("no step") }
            XCTAssertEqual(try replayer.encode(parsed, variables: TranscriptVariables()), frame.encoded(),
                           TranscriptPrinter.lines(send).joined(separator: "\n"))
        }
        XCTAssertEqual(TranscriptPrinter.lines(recorder.describeSent(frames[1])), ["-> 3 Hello flags=open payload=0a0561"])
        XCTAssertEqual(TranscriptPrinter.lines(recorder.describeSent(frames[2])), ["-> 5 frame type=request payload=ffff"])
    }

    func testVariablesAreFilledIntoRequests() throws {
        var frames = TranscriptFrames()
        let send = TranscriptSend.request(streamID: 1, method: "Hello", service: nil, flags: nil, timeoutNanos: 0,
                                          body: .text(["client: \"${ID}/$${x}\""]))
        let bytes = try frames.encode(send, variables: TranscriptVariables(["ID": "c1"]))
        let frame = try XCTUnwrap(FrameDecoder().feedFrames(bytes).first)
        let request = try Ttrpc_Request(serializedBytes: frame.payload)
        XCTAssertEqual(try Ocishim_V1_HelloRequest(serializedBytes: [UInt8](request.payload)).client, "c1/${x}")
        XCTAssertThrowsError(try frames.encode(send, variables: TranscriptVariables())) { error in
            XCTAssertTrue("\(error)".contains("unknown variable ${ID}"), "\(error)")
        }
    }

    // --- normalization ---------------------------------------------------------------

    func testAnswersAreNormalized() throws {
        var hello = Ocishim_V1_HelloResponse()
        hello.shimVersion = "0.1.0"
        hello.shimPid = 4242
        hello.protocolVersion = 1
        hello.containerID = "c1"
        hello.stateDir = "/tmp/state-c1"
        hello.methods = ["Hello", "Shutdown"]
        let normalizer = TranscriptNormalizer(variables: .session(id: "c1", stateDir: "/tmp/state-c1", shimVersion: "0.1.0"))
        let lines = hello.textFormatString().split(separator: "\n").map(String.init)
        XCTAssertEqual(normalizer.normalize(lines), [
            "shim_version: \"${SHIM_VERSION}\"",
            "shim_pid: <pid>",
            "protocol_version: 1",
            "container_id: \"${ID}\"",
            "state_dir: \"${STATE_DIR}\"",
            "methods: <list>",
        ])

        var info = Ocishim_V1_RuntimeInfoResponse()
        info.runtime = .with { $0.name = "runc"; $0.path = "/usr/bin/runc"; $0.version = "runc 1.1" }
        info.shim = .with { $0.name = "ocishim"; $0.path = "/x/ocishim"; $0.package = "Unknown" }
        XCTAssertEqual(normalizer.normalize(info.textFormatString().split(separator: "\n").map(String.init)), [
            "runtime {", "  name: \"runc\"", "  path: <path>", "  version: <text>", "}",
            "shim {", "  name: \"ocishim\"", "  path: <path>", "  package: <text>", "}",
        ])

        var support = Ocishim_V1_SupportsCheckpointResponse()
        support.runtimeSupports = true
        support.criuReason = "kernel says no"
        XCTAssertEqual(normalizer.normalize(support.textFormatString().split(separator: "\n").map(String.init)),
                       ["runtime_supports: true"])

        var event = Ocishim_V1_Event()
        event.timestamp = 17
        event.pid = 9
        var state = Ocishim_V1_StateResponse()
        state.startedAt = 5
        XCTAssertEqual(normalizer.normalize(event.textFormatString().split(separator: "\n").map(String.init)),
                       ["timestamp: <time>", "pid: <pid>"])
        XCTAssertEqual(normalizer.normalize(state.textFormatString().split(separator: "\n").map(String.init)),
                       ["started_at: <time>"])

        let error = TranscriptExpect.error(streamID: 1, code: 9, message: "container c1 in /tmp/state-c1 exists")
        XCTAssertEqual(normalizer.normalize(error), .error(streamID: 1, code: 9, message: "container ${ID} in ${STATE_DIR} exists"))
    }

    /// docs/TRANSCRIPTS.md promises its table is the code's table.
    func testDocumentedRulesMatchTheCode() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/TRANSCRIPTS.md")
        let rows = try String(contentsOf: docs, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("| `") }
        for rule in TranscriptNormalizer.rules {
            let row = rows.first { $0.hasPrefix("| `\(rule.field)` |") }
            XCTAssertNotNil(row, "docs/TRANSCRIPTS.md lacks the rule for \(rule.field)")
            switch rule.action {
            case .replace(let placeholder), .collapse(let placeholder):
                XCTAssertTrue(row?.contains("`\(placeholder)`") ?? false, "docs/TRANSCRIPTS.md: \(rule.field) -> \(placeholder)")
            case .omit:
                XCTAssertTrue(row?.contains("(left out)") ?? false, "docs/TRANSCRIPTS.md: \(rule.field) is left out")
            }
        }
    }

    func testVariablesLongestValueFirst() {
        let variables = TranscriptVariables(["ID": "abc", "STATE_DIR": "/tmp/abc-state"])
        XCTAssertEqual(variables.abstract("/tmp/abc-state/abc"), "${STATE_DIR}/${ID}")
    }

    func testPlaceholderMatching() {
        XCTAssertTrue(TranscriptLineDiff.matches(expected: "shim_pid: <pid>", actual: "shim_pid: <pid>"))
        XCTAssertFalse(TranscriptLineDiff.matches(expected: "shim_pid: 12", actual: "shim_pid: <pid>"))
        XCTAssertTrue(TranscriptLineDiff.matches(expected: "<- 7 error INVALID_ARGUMENT \"unmarshal request error: <*>\"",
                                                 actual: "<- 7 error INVALID_ARGUMENT \"unmarshal request error: truncated\""))
        XCTAssertFalse(TranscriptLineDiff.matches(expected: "<- 7 error INVALID_ARGUMENT \"unmarshal <*>\"",
                                                  actual: "<- 7 error NOT_FOUND \"unmarshal request\""))
        XCTAssertTrue(TranscriptNormalizer.Rule("*_at", .omit, "").matches(["finished_at"]))
        XCTAssertTrue(TranscriptNormalizer.Rule("runtime.path", .omit, "").matches(["runtime", "path"]))
        XCTAssertFalse(TranscriptNormalizer.Rule("runtime.path", .omit, "").matches(["path"]))
    }

    // --- replay engine -----------------------------------------------------------------

    /// Answers Hello on stream 1 and Capabilities on stream 3, stream 3 first.
    /// Then EOF, or (`endsWithEOF` false) silence.
    private func interleavedPeer(endsWithEOF: Bool = true) throws -> ScriptedPeer {
        ScriptedPeer(incoming: [
            try response(3, Ocishim_V1_CapabilitiesResponse.with { $0.runtimeName = "runc" }),
            try response(1, Ocishim_V1_HelloResponse.with { $0.shimPid = 77; $0.containerID = "c1" }),
        ] + (endsWithEOF ? [nil] : []))
    }

    private let session = TranscriptVariables.session(id: "c1", stateDir: "/tmp/s", shimVersion: "1")

    private let interleavedTranscript = """
        transcript 1
        -> 1 Hello
        -> 3 Capabilities
        <- 1 ok
            shim_pid: <pid>
            container_id: "${ID}"
        <- 3 ok
            runtime_name: "runc"
        <- eof

        """

    func testInterleavedStreamsReplayGreen() throws {
        let peer = try interleavedPeer()
        let engine = TranscriptReplayEngine(file: "t.transcript", transcript: try Transcript(parsing: interleavedTranscript), variables: session)
        let outcome = engine.run(on: peer)
        XCTAssertNil(outcome.difference, "\(outcome.difference!)")
        XCTAssertEqual(outcome.shimPid, 77)
        XCTAssertTrue(outcome.sawEOF)
        XCTAssertEqual(peer.sent.count, 2)
    }

    func testTamperedTranscriptGivesAReadableDifference() throws {
        let tampered = interleavedTranscript.replacing("runtime_name: \"runc\"", with: "runtime_name: \"crun\"")
        let engine = TranscriptReplayEngine(file: "t.transcript", transcript: try Transcript(parsing: tampered), variables: session)
        let difference = try XCTUnwrap(engine.run(on: try interleavedPeer()).difference)
        XCTAssertEqual(difference.line, 7)
        XCTAssertEqual(difference.description, """
            t.transcript:7: the answer on stream 3 differs
              <- 3 ok
            -     runtime_name: "crun"
            +     runtime_name: "runc"
            """)
    }

    func testTimeoutAndUnexpectedFramesAreDifferences() throws {
        var engine = TranscriptReplayEngine(file: "t", transcript: try Transcript(parsing: "transcript 1\n-> 1 Hello\n<- 5 ok\n"), variables: session)
        engine.defaultTimeoutSeconds = 2
        let timedOut = try XCTUnwrap(engine.run(on: try interleavedPeer(endsWithEOF: false)).difference)
        XCTAssertTrue(timedOut.description.hasPrefix("t:3: timed out after 2 s waiting for stream 5"), timedOut.description)
        XCTAssertTrue(timedOut.description.contains("+ <- 1 ok"), timedOut.description)

        engine.transcript = try Transcript(parsing: "transcript 1\n-> 1 Hello\n-> 3 Capabilities\n<- 1 ok\n    shim_pid: <pid>\n    container_id: \"${ID}\"\n")
        let stray = try XCTUnwrap(engine.run(on: try interleavedPeer()).difference)
        XCTAssertEqual(stray.line, 4)
        XCTAssertTrue(stray.summary.contains("does not expect"), stray.description)
        XCTAssertEqual(stray.actual, ["<- 3 ok", "    runtime_name: \"runc\""])
    }

    private func response<M: SwiftProtobuf.Message>(_ id: UInt32, _ message: M) throws -> Frame {
        var response = Ttrpc_Response()
        response.payload = try message.serializedBytes()
        return Frame(streamID: id, type: .response, payload: try response.serializedBytes())
    }
}

/// A shim that plays back a fixed list of frames (nil: EOF), then times out.
final class ScriptedPeer: TranscriptPeer {
    var incoming: [Frame?]
    var sent: [[UInt8]] = []
    private var clock: Int64 = 0

    init(incoming: [Frame?]) { self.incoming = incoming }

    func send(_ bytes: [UInt8]) throws(TranscriptPeerError) { sent.append(bytes) }
    func closeInput() {}
    var reconnects = 0
    func reconnect() throws(TranscriptPeerError) { reconnects += 1 }
    func receive(timeoutMillis: Int) throws(TranscriptPeerError) -> Frame? {
        guard !incoming.isEmpty else {
            clock += Int64(timeoutMillis)
            throw .timedOut
        }
        return incoming.removeFirst()
    }
    func waitForExit(timeoutMillis: Int) -> Bool { true }
    func monotonicMillis() -> Int64 { clock }
}

extension FrameDecoder {
    fileprivate func feedFrames(_ bytes: [UInt8]) -> [Frame] {
        var decoder = self
        return decoder.feed(bytes).compactMap { if case .frame(let f) = $0 { f } else { nil } }
    }
}
