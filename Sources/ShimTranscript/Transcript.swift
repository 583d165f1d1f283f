import ShimProtocol

/// A protocol session in text form (docs/TRANSCRIPTS.md): header directives,
/// then the frames each side sent, in order.
///
/// The model keeps message payloads as text-format lines, not as decoded
/// messages: request bodies may hold `${VAR}` references that only a live
/// session can fill in, and expected answers hold placeholders (`<pid>`) that
/// are not valid text format at all. Both are compared and encoded as text.
public struct Transcript: Sendable, Equatable {
    public var header: TranscriptHeader
    public var steps: [TranscriptStep]

    public init(header: TranscriptHeader = TranscriptHeader(), steps: [TranscriptStep] = []) {
        self.header = header
        self.steps = steps
    }

    /// The format version this code reads and writes (`transcript 1`).
    public static let formatVersion = 1
}

/// What a replayer needs to know before the first frame.
public struct TranscriptHeader: Sendable, Equatable {
    /// Comment lines before the `transcript` line (without the `#`).
    public var comments: [String]
    /// Extra `ocishim serve` arguments; `--id` and `--state-dir` come from the
    /// replayer.
    public var serveArguments: [String]
    /// Seconds to wait for each expected frame; nil: the replayer's default.
    public var timeoutSeconds: Int?
    /// `bundle CMD ARG...`: the replayer builds a busybox bundle running this
    /// command (Scripts/make-bundle) and names it `${BUNDLE}`.
    public var bundleCommand: [String]?

    public init(comments: [String] = [], serveArguments: [String] = [], timeoutSeconds: Int? = nil,
                bundleCommand: [String]? = nil) {
        self.comments = comments
        self.serveArguments = serveArguments
        self.timeoutSeconds = timeoutSeconds
        self.bundleCommand = bundleCommand
    }
}

/// One line (with its body) of a transcript.
public struct TranscriptStep: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `# text`, kept so a rewritten transcript keeps its explanations.
        case comment(String)
        case blank
        /// `-> ...`: what the client sends.
        case send(TranscriptSend)
        /// `<- ...`: what the shim must answer.
        case expect(TranscriptExpect)

        /// A `->` or `<-` line (not a comment or blank line).
        public var isFrame: Bool {
            switch self {
            case .send, .expect: true
            case .comment, .blank: false
            }
        }
    }

    public var kind: Kind
    /// 1-based line in the source file; 0 for steps built in memory.
    public var line: Int

    public init(_ kind: Kind, line: Int = 0) {
        self.kind = kind
        self.line = line
    }
}

/// A message payload: text-format lines (without the transcript's indent), or
/// bytes that have no faithful text form (`payload=HEX`).
public enum TranscriptBody: Sendable, Equatable {
    case text([String])
    case bytes([UInt8])

    public static let empty = TranscriptBody.text([])
}

/// Client -> shim.
public enum TranscriptSend: Sendable, Equatable {
    /// A ttrpc Request. `flags` nil means the method's usual request flags;
    /// `service` nil means ocishim.v1.Shim.
    case request(streamID: UInt32, method: String, service: String?, flags: FrameFlags?, timeoutNanos: Int64, body: TranscriptBody)
    /// A data frame of a streaming call (decoded with the method's request type).
    case data(streamID: UInt32, flags: FrameFlags, body: TranscriptBody)
    /// Half-close: a data frame with remote-closed and no-data.
    case closeSend(streamID: UInt32)
    /// Any frame, spelled out (unknown types, undecodable Request envelopes).
    case frame(streamID: UInt32, rawType: UInt8, flags: FrameFlags, payload: [UInt8])
    /// Bytes written as they are: broken framing on purpose.
    case raw([UInt8])
    /// Close the shim's stdin.
    case eof
    /// Drop the connection and dial the shim again on <state-dir>/shim.sock,
    /// as a restarted engine does; later frames use the new connection.
    case reconnect

    public var streamID: UInt32? {
        switch self {
        case .request(let id, _, _, _, _, _), .data(let id, _, _), .closeSend(let id), .frame(let id, _, _, _): id
        case .raw, .eof, .reconnect: nil
        }
    }
}

/// Shim -> client.
public enum TranscriptExpect: Sendable, Equatable {
    /// A Response with status OK, payload decoded with the method's response type.
    case ok(streamID: UInt32, body: TranscriptBody)
    /// A Response with an error status (code number, message).
    case error(streamID: UInt32, code: Int32, message: String)
    /// A data frame of a streaming call (decoded with the method's response type).
    case data(streamID: UInt32, flags: FrameFlags, body: TranscriptBody)
    /// End of the shim's side of a stream: data frame with remote-closed, no data.
    case end(streamID: UInt32)
    /// Any frame, spelled out.
    case frame(streamID: UInt32, rawType: UInt8, flags: FrameFlags, payload: [UInt8])
    /// The shim closed its stdout.
    case eof
    /// The shim process has exited (checked by pid, not by frames).
    case exit

    public var streamID: UInt32? {
        switch self {
        case .ok(let id, _), .error(let id, _, _), .data(let id, _, _), .end(let id), .frame(let id, _, _, _): id
        case .eof, .exit: nil
        }
    }
}
