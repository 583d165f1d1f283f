import ShimClient
import ShimProtocol
import ShimSystem

/// Records a live session as a transcript: attach it to a connection and every
/// frame sent or received becomes a line, normalized as replay will normalize
/// it (variables by name, varying fields as placeholders). Bytes the framing
/// cannot see (`sendRaw`, closing stdin, the shim's EOF) go through the
/// recorder's own methods. `close()` writes the file.
public final class TranscriptRecorder {
    public let path: String?
    public private(set) var transcript: Transcript
    private var frames = TranscriptFrames()
    private let normalizer: TranscriptNormalizer

    public init(path: String?, serveArguments: [String], variables: TranscriptVariables,
                comments: [String] = ["Recorded from a live session; review it before committing (docs/TRANSCRIPTS.md)."]) {
        self.path = path
        self.normalizer = TranscriptNormalizer(variables: variables)
        transcript = Transcript(header: TranscriptHeader(comments: comments,
                                                         serveArguments: serveArguments.map(variables.abstract)))
    }

    /// For a shim started as `<shim> serve --id ID --state-dir DIR <serveArguments>`:
    /// asks the binary for its version, so `${SHIM_VERSION}` is known.
    public convenience init(recordingTo path: String?, shim: String, id: String, stateDir: String,
                            serveArguments: [String]) throws(ClientError) {
        let version = try TranscriptSession.shimVersion(of: shim)
        self.init(path: path, serveArguments: serveArguments,
                  variables: .session(id: id, stateDir: FileSystem.absolute(stateDir), shimVersion: version))
    }

    /// Observes every frame of `connection` (after any observer already there).
    public func attach(to connection: FrameConnection) {
        let previous = connection.observer
        connection.observer = { [self] sent, frame in
            previous?(sent, frame)
            if sent { record(sent: frame) } else { record(received: frame) }
        }
    }

    public func record(sent frame: Frame) {
        append(.send(normalizer.abstract(frames.describeSent(frame))))
    }

    public func record(received frame: Frame) {
        append(.expect(normalizer.normalize(frames.describeReceived(frame))))
    }

    /// Sends bytes as they are and records them as `-> raw`.
    public func sendRaw(_ bytes: [UInt8], on connection: FrameConnection) throws(ClientError) {
        append(.send(.raw(bytes)))
        try connection.sendRaw(bytes)
    }

    /// Closes the shim's stdin and records `-> eof`.
    public func closeInput(of connection: FrameConnection) {
        append(.send(.eof))
        connection.closeWrite()
    }

    /// Records that the shim closed its stdout (`receive` returned nil).
    public func recordEOF() {
        append(.expect(.eof))
    }

    public func addComment(_ text: String) {
        append(.comment(text))
    }

    /// Writes the transcript to `path` (if any).
    public func close() throws(ClientError) {
        guard let path else { return }
        do { try FileSystem.writeAtomically(path, TranscriptPrinter.text(transcript)) } catch { throw .system(error) }
    }

    /// A blank line before each request that follows an answer keeps the
    /// exchanges apart for the reader.
    private func append(_ kind: TranscriptStep.Kind) {
        if case .send = kind, case .expect? = transcript.steps.last?.kind {
            transcript.steps.append(TranscriptStep(.blank))
        }
        transcript.steps.append(TranscriptStep(kind))
    }
}
