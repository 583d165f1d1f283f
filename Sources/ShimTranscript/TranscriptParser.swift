import ShimProtocol

/// Reads the text form of a transcript (docs/TRANSCRIPTS.md). Errors name the
/// file line, so a hand-edited transcript is quick to fix.
public struct TranscriptParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

extension Transcript {
    public init(parsing text: String) throws(TranscriptParseError) {
        var parser = TranscriptParser(text)
        self = try parser.parse()
    }
}

struct TranscriptParser {
    private let lines: [Substring]
    private var index = 0
    private var sawVersion = false
    private var transcript = Transcript()
    /// Set when an error is about a body line rather than the frame line.
    private var failingLine: Int?

    init(_ text: String) {
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var line = line
            while let last = line.last, last == " " || last == "\t" || last == "\r" { line = line.dropLast() }
            return line
        }
    }

    mutating func parse() throws(TranscriptParseError) -> Transcript {
        while index < lines.count {
            let lineNumber = index + 1
            let line = lines[index]
            index += 1
            do {
                try parseLine(line, lineNumber)
            } catch {
                throw TranscriptParseError(line: failingLine ?? lineNumber, message: error.message)
            }
        }
        guard sawVersion else {
            throw TranscriptParseError(line: 1, message: "not a transcript: the first line that is not a comment must be `transcript \(Transcript.formatVersion)`")
        }
        // A trailing newline is not a blank step.
        while case .blank? = transcript.steps.last?.kind { transcript.steps.removeLast() }
        return transcript
    }

    private mutating func parseLine(_ line: Substring, _ number: Int) throws(TranscriptSyntaxError) {
        if line.isEmpty {
            if sawVersion { transcript.steps.append(TranscriptStep(.blank, line: number)) }
            return
        }
        if line.first == " " || line.first == "\t" {
            throw TranscriptSyntaxError("an indented line belongs under a frame line that takes a message body")
        }
        if line.first == "#" {
            let text = String(line.dropFirst().drop(while: { $0 == " " }))
            if sawVersion {
                transcript.steps.append(TranscriptStep(.comment(text), line: number))
            } else {
                transcript.header.comments.append(text)
            }
            return
        }
        let tokens = try TranscriptSyntax.tokenize(line)
        guard let first = tokens.first else { return }
        if !sawVersion {
            guard first.text == "transcript", tokens.count == 2 else {
                throw TranscriptSyntaxError("not a transcript: expected `transcript \(Transcript.formatVersion)` before anything else")
            }
            guard tokens[1].text == "\(Transcript.formatVersion)" else {
                throw TranscriptSyntaxError("transcript format \(tokens[1].text) is not supported (this build reads format \(Transcript.formatVersion))")
            }
            sawVersion = true
            return
        }
        switch first.text {
        case "->":
            let send = try parseSend(Array(tokens.dropFirst()))
            transcript.steps.append(TranscriptStep(.send(send), line: number))
        case "<-":
            let expect = try parseExpect(Array(tokens.dropFirst()))
            transcript.steps.append(TranscriptStep(.expect(expect), line: number))
        case "serve", "timeout", "bundle":
            try parseDirective(first.text, Array(tokens.dropFirst()))
        default:
            throw TranscriptSyntaxError("unknown line `\(first.text)`: expected `->`, `<-`, `#`, `serve`, `bundle` or `timeout`")
        }
    }

    private mutating func parseDirective(_ name: String, _ args: [TranscriptSyntax.Token]) throws(TranscriptSyntaxError) {
        guard !transcript.steps.contains(where: \.kind.isFrame) else {
            throw TranscriptSyntaxError("`\(name)` must come before the first frame")
        }
        switch name {
        case "serve":
            transcript.header.serveArguments += args.map(\.text)
        case "bundle":
            guard !args.isEmpty else { throw TranscriptSyntaxError("usage: bundle CMD ARG... (the container's command)") }
            guard transcript.header.bundleCommand == nil else { throw TranscriptSyntaxError("only one `bundle` line per transcript") }
            transcript.header.bundleCommand = args.map(\.text)
        default:
            guard args.count == 1, let seconds = Int(args[0].text), seconds > 0 else {
                throw TranscriptSyntaxError("usage: timeout SECONDS (a positive whole number)")
            }
            transcript.header.timeoutSeconds = seconds
        }
    }

    // --- client -> shim -------------------------------------------------------

    private mutating func parseSend(_ tokens: [TranscriptSyntax.Token]) throws(TranscriptSyntaxError) -> TranscriptSend {
        guard let first = tokens.first else { throw TranscriptSyntaxError("`->` needs a stream id, `raw` or `eof`") }
        if !first.quoted && first.text == "eof" {
            try expectNoMore(tokens, after: 1, "-> eof")
            return .eof
        }
        if !first.quoted && first.text == "reconnect" {
            try expectNoMore(tokens, after: 1, "-> reconnect")
            return .reconnect
        }
        if !first.quoted && first.text == "raw" {
            var bytes: [UInt8] = []
            for token in tokens.dropFirst() { bytes += try TranscriptSyntax.parseHex(token.text) }
            return .raw(bytes)
        }
        let id = try streamID(first)
        guard tokens.count >= 2 else { throw TranscriptSyntaxError("`-> \(id)` needs a method name, `data`, `close` or `frame`") }
        let verb = tokens[1]
        var options = try Options(tokens.dropFirst(2))
        let result: TranscriptSend
        switch verb.quoted ? "" : verb.text {
        case "data":
            let flags = try options.flags() ?? []
            result = .data(streamID: id, flags: flags, body: try body(payload: options.payload()))
        case "close":
            result = .closeSend(streamID: id)
        case "frame":
            result = .frame(streamID: id, rawType: try options.frameType(), flags: try options.flags() ?? [],
                            payload: try options.payload() ?? [])
        default:
            let timeout = try options.take("timeout_nano").map { (text: String) throws(TranscriptSyntaxError) -> Int64 in
                guard let v = Int64(text), v >= 0 else { throw TranscriptSyntaxError("timeout_nano must be a non-negative integer") }
                return v
            } ?? 0
            result = .request(streamID: id, method: verb.text, service: options.take("service"),
                              flags: try options.flags(), timeoutNanos: timeout, body: try body(payload: options.payload()))
        }
        try options.finish()
        return result
    }

    // --- shim -> client -------------------------------------------------------

    private mutating func parseExpect(_ tokens: [TranscriptSyntax.Token]) throws(TranscriptSyntaxError) -> TranscriptExpect {
        guard let first = tokens.first else { throw TranscriptSyntaxError("`<-` needs a stream id, `eof` or `exit`") }
        if !first.quoted && (first.text == "eof" || first.text == "exit") {
            try expectNoMore(tokens, after: 1, "<- \(first.text)")
            return first.text == "eof" ? .eof : .exit
        }
        let id = try streamID(first)
        guard tokens.count >= 2 else { throw TranscriptSyntaxError("`<- \(id)` needs ok, error, data, end or frame") }
        switch tokens[1].text {
        case "error":
            guard tokens.count == 4, tokens[3].quoted || !tokens[3].text.contains("=") else {
                throw TranscriptSyntaxError("usage: <- ID error CODE \"message\"")
            }
            return .error(streamID: id, code: try TranscriptSyntax.parseCode(tokens[2].text), message: tokens[3].text)
        case "end":
            try expectNoMore(tokens, after: 2, "<- ID end")
            return .end(streamID: id)
        default:
            break
        }
        var options = try Options(tokens.dropFirst(2))
        let result: TranscriptExpect
        switch tokens[1].text {
        case "ok":
            result = .ok(streamID: id, body: try body(payload: options.payload()))
        case "data":
            let flags = try options.flags() ?? []
            result = .data(streamID: id, flags: flags, body: try body(payload: options.payload()))
        case "frame":
            result = .frame(streamID: id, rawType: try options.frameType(), flags: try options.flags() ?? [],
                            payload: try options.payload() ?? [])
        default:
            throw TranscriptSyntaxError("unknown answer `\(tokens[1].text)`: expected ok, error, data, end or frame")
        }
        try options.finish()
        return result
    }

    // --- pieces ---------------------------------------------------------------

    private func streamID(_ token: TranscriptSyntax.Token) throws(TranscriptSyntaxError) -> UInt32 {
        guard !token.quoted, let id = UInt32(token.text) else {
            throw TranscriptSyntaxError("expected a stream id (a number), found `\(token.text)`")
        }
        return id
    }

    private func expectNoMore(_ tokens: [TranscriptSyntax.Token], after count: Int, _ usage: String) throws(TranscriptSyntaxError) {
        guard tokens.count == count else { throw TranscriptSyntaxError("usage: \(usage) (nothing after it)") }
    }

    /// The indented lines that follow, or the `payload=` bytes (not both).
    private mutating func body(payload: [UInt8]?) throws(TranscriptSyntaxError) -> TranscriptBody {
        var text: [String] = []
        while index < lines.count, lines[index].first == " " || lines[index].first == "\t" {
            let line = lines[index]
            guard line.hasPrefix(TranscriptSyntax.bodyIndent) else {
                failingLine = index + 1
                throw TranscriptSyntaxError("body lines are indented by four spaces")
            }
            index += 1
            let content = line.dropFirst(TranscriptSyntax.bodyIndent.count)
            if content.drop(while: { $0 == " " }).first == "#" { continue }
            text.append(String(content))
        }
        if let payload {
            guard text.isEmpty else { throw TranscriptSyntaxError("a frame has either payload=HEX or a message body, not both") }
            return .bytes(payload)
        }
        return .text(text)
    }

    /// The `key=value` tokens after a frame line's verb.
    private struct Options {
        private var values: [(key: String, value: String)] = []

        init(_ tokens: ArraySlice<TranscriptSyntax.Token>) throws(TranscriptSyntaxError) {
            for token in tokens {
                guard !token.quoted, let eq = token.text.firstIndex(of: "=") else {
                    throw TranscriptSyntaxError("unexpected `\(token.text)`: options are written key=value")
                }
                values.append((String(token.text[..<eq]), String(token.text[token.text.index(after: eq)...])))
            }
        }

        mutating func take(_ key: String) -> String? {
            guard let i = values.firstIndex(where: { $0.key == key }) else { return nil }
            return values.remove(at: i).value
        }

        mutating func flags() throws(TranscriptSyntaxError) -> FrameFlags? {
            try take("flags").map { (text: String) throws(TranscriptSyntaxError) in try TranscriptSyntax.parseFlags(text) }
        }

        mutating func payload() throws(TranscriptSyntaxError) -> [UInt8]? {
            try take("payload").map { (text: String) throws(TranscriptSyntaxError) in try TranscriptSyntax.parseHex(text) }
        }

        mutating func frameType() throws(TranscriptSyntaxError) -> UInt8 {
            guard let text = take("type") else { throw TranscriptSyntaxError("a `frame` line needs type=request|response|data|N") }
            return try TranscriptSyntax.parseFrameType(text)
        }

        func finish() throws(TranscriptSyntaxError) {
            if let extra = values.first {
                throw TranscriptSyntaxError("unknown option \(extra.key)= on this line")
            }
        }
    }
}
