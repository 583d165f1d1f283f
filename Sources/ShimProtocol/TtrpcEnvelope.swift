import SwiftProtobuf

/// ttrpc's Request and Response envelopes (proto/ttrpc/ttrpc.proto) read and
/// written directly on bytes, as the shim's server does for every call.
///
/// Why not the generated `Ttrpc_Request` and `Ttrpc_Response`: swift-protobuf
/// gives a `bytes` field Foundation's `Data`, and going through Data and the
/// two messages on every call makes the Swift runtime and FoundationEssentials
/// fill caches on first use that stay dirty in every idle shim (four pages of
/// each shim's private memory; docs/BENCHMARKS.md, "Scale"). The envelopes are
/// fixed by containerd/ttrpc; engines and tools keep the generated types, and
/// Tests/ShimProtocolTests check that both read and write the same bytes.
public struct RequestEnvelope: Sendable, Equatable {
    public var service: String
    public var method: String
    public var payload: [UInt8]
    public var timeoutNano: Int64

    public init(service: String, method: String, payload: [UInt8], timeoutNano: Int64 = 0) {
        self.service = service
        self.method = method
        self.payload = payload
        self.timeoutNano = timeoutNano
    }

    /// The request in `bytes`. What this reader does not take itself (the
    /// metadata field, unknown fields, anything malformed) goes through the
    /// generated decoder, so the envelope means and fails exactly as
    /// swift-protobuf reads it (the same error words).
    public init(decoding bytes: [UInt8]) throws {
        if let envelope = bytes.withUnsafeBytes({ Self.read($0) }) {
            self = envelope
            return
        }
        let request = try Ttrpc_Request(serializedBytes: bytes)
        self.init(service: request.service, method: request.method, payload: [UInt8](request.payload),
                  timeoutNano: request.timeoutNano)
    }

    /// Fields 1-4 with their declared wire types, nothing else; nil otherwise.
    static func read(_ bytes: UnsafeRawBufferPointer) -> RequestEnvelope? {
        var reader = WireReader(bytes)
        var envelope = RequestEnvelope(service: "", method: "", payload: [])
        while !reader.atEnd {
            guard let key = reader.varint() else { return nil }
            switch (key >> 3, key & 7) {
            case (1, 2):
                guard let text = reader.string() else { return nil }
                envelope.service = text
            case (2, 2):
                guard let text = reader.string() else { return nil }
                envelope.method = text
            case (3, 2):
                guard let field = reader.lengthDelimited() else { return nil }
                envelope.payload = Array(field)
            case (4, 0):
                guard let value = reader.varint() else { return nil }
                envelope.timeoutNano = Int64(bitPattern: value)
            default:
                return nil
            }
        }
        return envelope
    }
}

/// The answers the server writes: a ttrpc.Response with its payload, or with
/// a google.rpc.Status carrying the error: code, message and, for a failure
/// with a reason, one google.rpc.ErrorInfo in the details (RPCError.status).
public enum ResponseEnvelope {
    /// OK: the status left out (proto3: absent is code 0), then the payload.
    public static func success(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 6)
        WireWriter.field(2, payload, into: &out)
        return out
    }

    public static func failure(_ error: RPCError) -> [UInt8] {
        var status: [UInt8] = []
        if error.code.rawValue != 0 {
            WireWriter.varint(1 << 3, into: &status)
            WireWriter.varint(UInt64(bitPattern: Int64(error.code.rawValue)), into: &status)
        }
        WireWriter.field(2, Array(error.message.utf8), into: &status)
        if !error.reason.isEmpty {
            WireWriter.field(3, errorInfoAny(reason: error.reason), into: &status)
        }
        var out: [UInt8] = []
        // A set message field is written even when empty.
        WireWriter.varint(1 << 3 | 2, into: &out)
        WireWriter.varint(UInt64(status.count), into: &out)
        out += status
        return out
    }

    /// google.protobuf.Any{type_url, value: google.rpc.ErrorInfo{reason,
    /// domain}}, the bytes Google_Protobuf_Any(message:) writes for it.
    private static func errorInfoAny(reason: String) -> [UInt8] {
        var info: [UInt8] = []
        WireWriter.field(1, Array(reason.utf8), into: &info)
        WireWriter.field(2, Array(RPCError.domain.utf8), into: &info)
        var any: [UInt8] = []
        WireWriter.field(1, Array("type.googleapis.com/google.rpc.ErrorInfo".utf8), into: &any)
        WireWriter.field(2, info, into: &any)
        return any
    }
}

/// Protobuf's wire format, the little of it the envelopes use.
struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { offset >= bytes.count }

    /// A base-128 varint of at most 10 bytes.
    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count && shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
        guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
        let start = offset
        offset += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
    }

    /// A string field; nil unless valid UTF-8 (protobuf requires it).
    /// Checked here and copied in rather than through the standard
    /// library's generic `String(validating:as:)`, which instantiates
    /// metadata at run time (the reason for this file).
    mutating func string() -> String? {
        guard let field = lengthDelimited(), Self.isValidUTF8(field) else { return nil }
        guard let source = field.baseAddress, field.count > 0 else { return "" }
        return String(unsafeUninitializedCapacity: field.count) { buffer in
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source, byteCount: field.count)
            return field.count
        }
    }

    /// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates,
    /// nothing past U+10FFFF.
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            // The sequence's length and the range its second byte must be in.
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return false
            }
            guard index + length <= bytes.count, (low...high).contains(bytes[index + 1]) else { return false }
            for next in 2..<length where bytes[index + next] & 0xC0 != 0x80 { return false }
            index += length
        }
        return true
    }
}

enum WireWriter {
    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    /// A length-delimited field, left out when empty (proto3's default).
    static func field(_ number: UInt64, _ bytes: [UInt8], into out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        varint(number << 3 | 2, into: &out)
        varint(UInt64(bytes.count), into: &out)
        out += bytes
    }
}
