import ShimProtocol
import SwiftProtobuf

/// Converts between frames and transcript lines. A session keeps one of these
/// because decoding a data frame or a Response needs the method of its stream,
/// which only the Request that opened the stream names.
public struct TranscriptFrames: Sendable {
    /// Method of each stream, from the Requests seen so far.
    public private(set) var methods: [UInt32: String] = [:]

    public init() {}

    // --- what the client sends ------------------------------------------------

    /// The frame line for a frame the client sent (recording). Falls back to
    /// `payload=HEX` or a spelled-out `frame` whenever the text form would not
    /// reproduce the exact bytes.
    public mutating func describeSent(_ frame: Frame) -> TranscriptSend {
        switch frame.type {
        case .request:
            guard let request = try? Ttrpc_Request(serializedBytes: frame.payload),
                  request.metadata.isEmpty,
                  (try? request.serializedBytes()) == frame.payload
            else { break }
            methods[frame.streamID] = request.method
            let method = ShimService.method(named: request.method)
            let flags = frame.flags == (method?.requestFlags ?? []) ? nil : frame.flags
            return .request(streamID: frame.streamID, method: request.method,
                            service: request.service == ShimService.name ? nil : request.service,
                            flags: flags, timeoutNanos: request.timeoutNano,
                            body: Self.body([UInt8](request.payload), as: method?.requestType))
        case .data:
            if frame.flags == [.remoteClosed, .noData] && frame.payload.isEmpty { return .closeSend(streamID: frame.streamID) }
            let type = methods[frame.streamID].flatMap(ShimService.method(named:))?.requestType
            return .data(streamID: frame.streamID, flags: frame.flags, body: Self.body(frame.payload, as: type))
        default:
            break
        }
        return .frame(streamID: frame.streamID, rawType: frame.rawType, flags: frame.flags, payload: frame.payload)
    }

    /// The bytes to write for a `->` line, with `${VAR}` filled in.
    public mutating func encode(_ send: TranscriptSend, variables: TranscriptVariables) throws(TranscriptEncodeError) -> [UInt8] {
        switch send {
        case .request(let id, let method, let service, let flags, let timeout, let body):
            let info = ShimService.method(named: method)
            var request = Ttrpc_Request()
            request.service = try expand(service ?? ShimService.name, variables)
            request.method = method
            request.timeoutNano = timeout
            request.payload = .init(try payload(body, as: info?.requestType, what: method, variables))
            methods[id] = method
            let bytes: [UInt8]
            do { bytes = try request.serializedBytes() } catch { throw TranscriptEncodeError("cannot encode the Request: \(error)") }
            return Frame(streamID: id, type: .request, flags: flags ?? info?.requestFlags ?? [], payload: bytes).encoded()
        case .data(let id, let flags, let body):
            let method = methods[id]
            let type = method.flatMap(ShimService.method(named:))?.requestType
            let bytes = try payload(body, as: type, what: "\(method ?? "stream \(id)") data", variables)
            return Frame(streamID: id, type: .data, flags: flags, payload: bytes).encoded()
        case .closeSend(let id):
            return Frame(streamID: id, type: .data, flags: [.remoteClosed, .noData]).encoded()
        case .frame(let id, let type, let flags, let payload):
            return Frame(streamID: id, rawType: type, flags: flags, payload: payload).encoded()
        case .raw(let bytes):
            return bytes
        case .eof, .reconnect:
            return []
        }
    }

    // --- what the shim answers ------------------------------------------------

    /// The `<-` line for a frame the shim sent, before normalization.
    public func describeReceived(_ frame: Frame) -> TranscriptExpect {
        let method = methods[frame.streamID].flatMap(ShimService.method(named:))
        switch frame.type {
        case .response where frame.flags.isEmpty:
            guard let response = try? Ttrpc_Response(serializedBytes: frame.payload) else { break }
            if response.status.code != 0 {
                return .error(streamID: frame.streamID, code: response.status.code, message: response.status.message)
            }
            return .ok(streamID: frame.streamID, body: Self.body([UInt8](response.payload), as: method?.responseType))
        case .data:
            if frame.flags == [.remoteClosed, .noData] && frame.payload.isEmpty { return .end(streamID: frame.streamID) }
            return .data(streamID: frame.streamID, flags: frame.flags, body: Self.body(frame.payload, as: method?.responseType))
        default:
            break
        }
        return .frame(streamID: frame.streamID, rawType: frame.rawType, flags: frame.flags, payload: frame.payload)
    }

    // --- bodies -----------------------------------------------------------------

    /// Text-format lines when they round-trip to exactly these bytes, else the
    /// bytes. No bytes is an empty body whatever the type (or lack of one).
    static func body(_ bytes: [UInt8], as type: (any SwiftProtobuf.Message.Type)?) -> TranscriptBody {
        if bytes.isEmpty { return .empty }
        guard let type, let text = textForm(of: bytes, as: type) else { return .bytes(bytes) }
        return .text(text.split(separator: "\n").map(String.init))
    }

    private static func textForm<M: SwiftProtobuf.Message>(of bytes: [UInt8], as type: M.Type) -> String? {
        guard let message = try? M(serializedBytes: bytes) else { return nil }
        let text = message.textFormatString()
        guard let back = try? M(textFormatString: text), (try? back.serializedBytes()) == bytes else { return nil }
        return text
    }

    private func payload(_ body: TranscriptBody, as type: (any SwiftProtobuf.Message.Type)?, what: String,
                         _ variables: TranscriptVariables) throws(TranscriptEncodeError) -> [UInt8] {
        switch body {
        case .bytes(let bytes):
            return bytes
        case .text(let lines):
            if lines.isEmpty { return [] }
            guard let type else {
                throw TranscriptEncodeError("\(what) has no known message type: give its bytes as payload=HEX")
            }
            let text = try lines.map { (line: String) throws(TranscriptEncodeError) in try expand(line, variables) }
                .joined(separator: "\n")
            do {
                return try Self.encodeText(text, as: type)
            } catch {
                throw TranscriptEncodeError("\(what): not a valid \(type.protoMessageName) in text format (\(error))")
            }
        }
    }

    private static func encodeText<M: SwiftProtobuf.Message>(_ text: String, as type: M.Type) throws -> [UInt8] {
        try M(textFormatString: text).serializedBytes()
    }

    private func expand(_ text: String, _ variables: TranscriptVariables) throws(TranscriptEncodeError) -> String {
        do { return try variables.expand(text) } catch { throw TranscriptEncodeError(error.description) }
    }
}

/// A `->` line that cannot be turned into bytes.
public struct TranscriptEncodeError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
