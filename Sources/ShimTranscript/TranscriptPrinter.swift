import ShimProtocol

/// Writes the canonical text form of a transcript. Parsing the output gives
/// the same model back; printing a parsed canonical file gives the same text.
/// The replayer prints expected and actual frames with these same functions
/// and compares the lines, so "equal" means "prints the same".
public enum TranscriptPrinter {
    public static func text(_ transcript: Transcript) -> String {
        var out: [String] = []
        for comment in transcript.header.comments { out.append(commentLine(comment)) }
        out.append("transcript \(Transcript.formatVersion)")
        if !transcript.header.serveArguments.isEmpty {
            out.append((["serve"] + transcript.header.serveArguments.map(TranscriptSyntax.word)).joined(separator: " "))
        }
        if let timeout = transcript.header.timeoutSeconds { out.append("timeout \(timeout)") }
        if let command = transcript.header.bundleCommand {
            out.append((["bundle"] + command.map(TranscriptSyntax.word)).joined(separator: " "))
        }
        for step in transcript.steps { out += lines(step.kind) }
        return out.joined(separator: "\n") + "\n"
    }

    public static func lines(_ kind: TranscriptStep.Kind) -> [String] {
        switch kind {
        case .comment(let text): [commentLine(text)]
        case .blank: [""]
        case .send(let send): lines(send)
        case .expect(let expect): lines(expect)
        }
    }

    public static func lines(_ send: TranscriptSend) -> [String] {
        switch send {
        case .request(let id, let method, let service, let flags, let timeout, let body):
            let verb = ["data", "close", "frame"].contains(method) ? TranscriptSyntax.quote(method) : TranscriptSyntax.word(method)
            var head = "-> \(id) \(verb)"
            if let service { head += " service=\(TranscriptSyntax.word(service))" }
            if let flags { head += " flags=\(TranscriptSyntax.flags(flags))" }
            if timeout != 0 { head += " timeout_nano=\(timeout)" }
            return withBody(head, body)
        case .data(let id, let flags, let body):
            return withBody("-> \(id) data" + flagsOption(flags), body)
        case .closeSend(let id):
            return ["-> \(id) close"]
        case .frame(let id, let type, let flags, let payload):
            return [frameLine("->", id, type, flags, payload)]
        case .raw(let bytes):
            return bytes.isEmpty ? ["-> raw"] : ["-> raw \(TranscriptSyntax.hexGroups(bytes))"]
        case .eof:
            return ["-> eof"]
        case .reconnect:
            return ["-> reconnect"]
        }
    }

    public static func lines(_ expect: TranscriptExpect) -> [String] {
        switch expect {
        case .ok(let id, let body):
            return withBody("<- \(id) ok", body)
        case .error(let id, let code, let message):
            return ["<- \(id) error \(TranscriptSyntax.codeName(code)) \(TranscriptSyntax.quote(message))"]
        case .data(let id, let flags, let body):
            return withBody("<- \(id) data" + flagsOption(flags), body)
        case .end(let id):
            return ["<- \(id) end"]
        case .frame(let id, let type, let flags, let payload):
            return [frameLine("<-", id, type, flags, payload)]
        case .eof:
            return ["<- eof"]
        case .exit:
            return ["<- exit"]
        }
    }

    // --- pieces ---------------------------------------------------------------

    private static func commentLine(_ text: String) -> String {
        text.isEmpty ? "#" : "# \(text)"
    }

    private static func flagsOption(_ flags: FrameFlags) -> String {
        flags.isEmpty ? "" : " flags=\(TranscriptSyntax.flags(flags))"
    }

    private static func frameLine(_ arrow: String, _ id: UInt32, _ type: UInt8, _ flags: FrameFlags, _ payload: [UInt8]) -> String {
        var line = "\(arrow) \(id) frame type=\(TranscriptSyntax.frameType(type))" + flagsOption(flags)
        if !payload.isEmpty { line += " payload=\(TranscriptSyntax.hex(payload))" }
        return line
    }

    private static func withBody(_ head: String, _ body: TranscriptBody) -> [String] {
        switch body {
        case .bytes(let bytes):
            return [head + " payload=\(TranscriptSyntax.hex(bytes))"]
        case .text(let lines):
            return [head] + lines.map { TranscriptSyntax.bodyIndent + $0 }
        }
    }
}

extension Transcript: CustomStringConvertible {
    /// The canonical text form.
    public var description: String { TranscriptPrinter.text(self) }
}
