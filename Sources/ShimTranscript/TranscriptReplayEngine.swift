import ShimProtocol

/// The other end of a replay: a live shim (TranscriptSession), or a scripted
/// fake in tests. The engine does no I/O of its own: it runs the same against
/// either, and its tests need no shim.
public protocol TranscriptPeer: AnyObject {
    /// Writes bytes to the shim's stdin.
    func send(_ bytes: [UInt8]) throws(TranscriptPeerError)
    /// Closes the shim's stdin (the shim sees EOF).
    func closeInput()
    /// Drops the connection and connects again through the shim's socket.
    func reconnect() throws(TranscriptPeerError)
    /// The next frame from the shim; nil once it closed its stdout.
    func receive(timeoutMillis: Int) throws(TranscriptPeerError) -> Frame?
    /// True once the shim process has exited (waits up to the timeout).
    func waitForExit(timeoutMillis: Int) -> Bool
    /// A monotonic clock, for deadlines spanning several receives.
    func monotonicMillis() -> Int64
}

public enum TranscriptPeerError: Error, Sendable {
    case timedOut
    case failed(String)
}

/// What a replay found, and what cleanup needs to know.
public struct TranscriptReplayOutcome: Sendable {
    /// nil: the shim did everything the transcript says, and nothing else.
    public var difference: TranscriptDifference?
    /// The shim closed its stdout during the replay.
    public var sawEOF = false
    /// The client closed the shim's stdin (`-> eof`).
    public var closedInput = false
    /// From a HelloResponse, when the transcript said Hello.
    public var shimPid: Int32?
    /// The session moved to the shim's socket (`-> reconnect`).
    public var reconnected = false
}

/// Plays a transcript against a peer: sends each `->` line, matches each
/// `<-` line against the next frame of its stream (frames of other streams
/// wait in a queue, since streams may interleave), and stops at the first
/// difference. At the end, frames nobody expected are a difference too.
public struct TranscriptReplayEngine {
    public var file: String
    public var transcript: Transcript
    public var variables: TranscriptVariables
    /// Seconds to wait for each expected frame unless the transcript says `timeout`.
    public var defaultTimeoutSeconds: Int = 10
    /// How long to watch for stray frames after the last step.
    public var graceMillis: Int = 300

    public init(file: String, transcript: Transcript, variables: TranscriptVariables) {
        self.file = file
        self.transcript = transcript
        self.variables = variables
    }

    public func run(on peer: some TranscriptPeer) -> TranscriptReplayOutcome {
        var run = ReplayRun(engine: self, peer: peer)
        run.play()
        return run.outcome
    }
}

/// The state of one replay.
private struct ReplayRun<Peer: TranscriptPeer> {
    let engine: TranscriptReplayEngine
    let peer: Peer
    let normalizer: TranscriptNormalizer
    var frames = TranscriptFrames()
    var queued: [Frame] = []
    var outcome = TranscriptReplayOutcome()

    init(engine: TranscriptReplayEngine, peer: Peer) {
        self.engine = engine
        self.peer = peer
        self.normalizer = TranscriptNormalizer(variables: engine.variables)
    }

    var timeoutSeconds: Int { engine.transcript.header.timeoutSeconds ?? engine.defaultTimeoutSeconds }

    mutating func play() {
        var lastLine = 0
        for step in engine.transcript.steps {
            switch step.kind {
            case .comment, .blank:
                continue
            case .send(let send):
                lastLine = step.line
                if let difference = perform(send, line: step.line) { return fail(difference) }
            case .expect(let expect):
                lastLine = step.line
                if let difference = check(expect, line: step.line) { return fail(difference) }
            }
        }
        if let difference = checkNothingMore(after: lastLine) { fail(difference) }
    }

    private mutating func fail(_ difference: TranscriptDifference) {
        outcome.difference = difference
    }

    private func difference(_ line: Int, _ summary: String, expected: [String] = [], actual: [String] = []) -> TranscriptDifference {
        TranscriptDifference(file: engine.file, line: line, summary: summary, expected: expected, actual: actual)
    }

    // --- sending ------------------------------------------------------------------

    private mutating func perform(_ send: TranscriptSend, line: Int) -> TranscriptDifference? {
        if case .reconnect = send {
            // Frames still queued belong to the connection that is going away.
            queued = []
            do {
                try peer.reconnect()
            } catch {
                return difference(line, "cannot reconnect to the shim: \(describe(error))", expected: TranscriptPrinter.lines(send))
            }
            outcome.closedInput = false
            outcome.sawEOF = false
            outcome.reconnected = true
            return nil
        }
        if outcome.closedInput {
            return difference(line, "cannot send after `-> eof`: the shim's stdin is closed", expected: TranscriptPrinter.lines(send))
        }
        if case .eof = send {
            peer.closeInput()
            outcome.closedInput = true
            return nil
        }
        let bytes: [UInt8]
        do {
            bytes = try frames.encode(send, variables: engine.variables)
        } catch {
            return difference(line, "cannot encode this frame: \(error)", expected: TranscriptPrinter.lines(send))
        }
        do {
            try peer.send(bytes)
        } catch {
            return difference(line, "cannot send this frame: \(describe(error))", expected: TranscriptPrinter.lines(send))
        }
        return nil
    }

    // --- expecting ----------------------------------------------------------------

    private mutating func check(_ expect: TranscriptExpect, line: Int) -> TranscriptDifference? {
        let expected = TranscriptPrinter.lines(expect)
        switch expect {
        case .exit:
            if peer.waitForExit(timeoutMillis: timeoutSeconds * 1000) { return nil }
            return difference(line, "the shim is still running \(timeoutSeconds) s later", expected: expected, actual: ["(shim process alive)"])
        case .eof:
            return checkEOF(line: line, expected: expected)
        default:
            break
        }
        guard let id = expect.streamID else { return nil }
        switch next(on: id) {
        case .frame(let frame):
            let actual = lines(of: frame)
            if TranscriptLineDiff.matches(expected: expected, actual: actual) {
                noteHello(frame)
                return nil
            }
            return difference(line, "the answer on stream \(id) differs", expected: expected, actual: actual)
        case .eof:
            return difference(line, "the shim closed its end (EOF) instead of answering on stream \(id)",
                              expected: expected, actual: ["<- eof"])
        case .timedOut:
            return difference(line, "timed out after \(timeoutSeconds) s waiting for stream \(id)",
                              expected: expected, actual: queuedLines())
        case .failed(let why):
            return difference(line, "reading from the shim failed: \(why)", expected: expected)
        }
    }

    private mutating func checkEOF(line: Int, expected: [String]) -> TranscriptDifference? {
        if let first = queued.first {
            return difference(line, "the shim sent a frame the transcript does not expect before its EOF",
                              expected: expected, actual: lines(of: first))
        }
        if outcome.sawEOF { return nil }
        let deadline = peer.monotonicMillis() + Int64(timeoutSeconds) * 1000
        do throws(TranscriptPeerError) {
            if let frame = try peer.receive(timeoutMillis: remaining(until: deadline)) {
                return difference(line, "the shim sent a frame the transcript does not expect before its EOF",
                                  expected: expected, actual: lines(of: frame))
            }
            outcome.sawEOF = true
            return nil
        } catch {
            switch error {
            case .timedOut:
                return difference(line, "timed out after \(timeoutSeconds) s waiting for the shim to close its end (EOF)",
                                  expected: expected)
            case .failed(let why):
                return difference(line, "reading from the shim failed: \(why)", expected: expected)
            }
        }
    }

    /// After the last step: frames still queued, or arriving within the
    /// grace period, were not expected. An EOF is fine: the session is over.
    private mutating func checkNothingMore(after line: Int) -> TranscriptDifference? {
        let summary = "after the last step, the shim sent a frame the transcript does not expect"
        if let first = queued.first { return difference(line, summary, actual: lines(of: first)) }
        guard !outcome.sawEOF else { return nil }
        let deadline = peer.monotonicMillis() + Int64(engine.graceMillis)
        do throws(TranscriptPeerError) {
            if let frame = try peer.receive(timeoutMillis: remaining(until: deadline)) {
                return difference(line, summary, actual: lines(of: frame))
            }
            outcome.sawEOF = true
        } catch {
            if case .failed(let why) = error {
                return difference(line, "reading from the shim failed after the last step: \(why)")
            }
        }
        return nil
    }

    // --- frames ---------------------------------------------------------------------

    private enum Arrival {
        case frame(Frame)
        case eof
        case timedOut
        case failed(String)
    }

    /// The next frame of stream `id`; frames of other streams are queued.
    private mutating func next(on id: UInt32) -> Arrival {
        if let i = queued.firstIndex(where: { $0.streamID == id }) { return .frame(queued.remove(at: i)) }
        if outcome.sawEOF { return .eof }
        let deadline = peer.monotonicMillis() + Int64(timeoutSeconds) * 1000
        while true {
            do throws(TranscriptPeerError) {
                guard let frame = try peer.receive(timeoutMillis: remaining(until: deadline)) else {
                    outcome.sawEOF = true
                    return .eof
                }
                if frame.streamID == id { return .frame(frame) }
                queued.append(frame)
            } catch {
                switch error {
                case .timedOut: return .timedOut
                case .failed(let why): return .failed(why)
                }
            }
        }
    }

    private func remaining(until deadline: Int64) -> Int {
        Int(max(0, deadline - peer.monotonicMillis()))
    }

    /// A received frame as the transcript would write it.
    private func lines(of frame: Frame) -> [String] {
        TranscriptPrinter.lines(normalizer.normalize(frames.describeReceived(frame)))
    }

    private func queuedLines() -> [String] {
        guard !queued.isEmpty else { return [] }
        return ["# meanwhile, on other streams:"] + queued.flatMap { lines(of: $0) }
    }

    private mutating func noteHello(_ frame: Frame) {
        guard frames.methods[frame.streamID] == "Hello", frame.type == .response,
              let response = try? Ttrpc_Response(serializedBytes: frame.payload),
              let hello = try? Ocishim_V1_HelloResponse(serializedBytes: [UInt8](response.payload)),
              hello.shimPid > 0
        else { return }
        outcome.shimPid = hello.shimPid
    }

    private func describe(_ error: TranscriptPeerError) -> String {
        switch error {
        case .timedOut: "timed out"
        case .failed(let why): why
        }
    }
}
