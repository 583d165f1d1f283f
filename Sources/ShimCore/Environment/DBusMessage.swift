/// The few D-Bus wire-format pieces the shim needs to ask systemd for a
/// transient scope (SystemdScope): little-endian marshalling of a message
/// with header fields and a body, and reading a reply's type, error name
/// and first string. Not a general D-Bus library: only the types
/// StartTransientUnit uses (y, b, u, s, o, g, arrays, structs, variants).
struct DBusWriter {
    private(set) var bytes: [UInt8] = []

    mutating func align(_ boundary: Int) {
        while bytes.count % boundary != 0 { bytes.append(0) }
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func uint32(_ value: UInt32) {
        align(4)
        bytes += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
    }

    mutating func boolean(_ value: Bool) { uint32(value ? 1 : 0) }

    /// `s` and `o`: a 32-bit length, the bytes, a NUL.
    mutating func string(_ value: String) {
        uint32(UInt32(value.utf8.count))
        bytes += value.utf8
        bytes.append(0)
    }

    /// `g`: an 8-bit length, the bytes, a NUL.
    mutating func signature(_ value: String) {
        bytes.append(UInt8(value.utf8.count))
        bytes += value.utf8
        bytes.append(0)
    }

    /// An array whose elements align to `elementAlignment`: its byte length
    /// (not counting the padding before the first element, which is there
    /// even when the array is empty), then the elements.
    mutating func array(elementAlignment: Int, _ elements: (inout DBusWriter) -> Void) {
        uint32(0)
        let lengthAt = bytes.count - 4
        align(elementAlignment)
        let start = bytes.count
        elements(&self)
        let length = UInt32(bytes.count - start)
        for i in 0..<4 { bytes[lengthAt + i] = UInt8(length >> (8 * UInt32(i)) & 0xFF) }
    }
}

enum DBusMessage {
    enum Kind: UInt8 { case methodCall = 1, methodReturn = 2, error = 3, signal = 4 }

    enum HeaderField: UInt8 {
        case path = 1, interface = 2, member = 3, errorName = 4, replySerial = 5, destination = 6, signature = 8
    }

    /// A header field's value, with its D-Bus type.
    enum Value {
        case objectPath(String), string(String), signature(String), uint32(UInt32)
    }

    /// A whole message: header (fields aligned as structs), then `body`,
    /// which the caller marshalled at offset 0 (the header ends 8-aligned,
    /// so the body's alignment is the same as in a stand-alone buffer).
    static func encode(_ kind: Kind, serial: UInt32, fields: [(HeaderField, Value)], body: [UInt8]) -> [UInt8] {
        var w = DBusWriter()
        w.byte(UInt8(ascii: "l"))
        w.byte(kind.rawValue)
        w.byte(0)  // flags
        w.byte(1)  // protocol version
        w.uint32(UInt32(body.count))
        w.uint32(serial)
        w.array(elementAlignment: 8) { w in
            for (code, value) in fields {
                w.align(8)
                w.byte(code.rawValue)
                switch value {
                case .objectPath(let path): w.signature("o"); w.string(path)
                case .string(let text): w.signature("s"); w.string(text)
                case .signature(let sig): w.signature("g"); w.signature(sig)
                case .uint32(let number): w.signature("u"); w.uint32(number)
                }
            }
        }
        w.align(8)
        return w.bytes + body
    }

    /// What a reply says: its kind, the serial it answers, an error's name
    /// and the body's first string (an error's message, a job's path).
    struct Reply: Equatable {
        var kind: Kind
        var replySerial: UInt32?
        var errorName: String?
        var firstString: String?
    }

    /// The size of the message that starts `bytes` once its fixed header
    /// (16 bytes) is there; nil before.
    static func totalLength(of bytes: [UInt8]) -> Int? {
        guard bytes.count >= 16, bytes[0] == UInt8(ascii: "l") else { return nil }
        let fields = Int(readUInt32(bytes, 12))
        let header = 16 + fields
        let padded = (header + 7) / 8 * 8
        return padded + Int(readUInt32(bytes, 4))
    }

    /// Parses a whole little-endian message (`totalLength` bytes).
    static func decodeReply(_ bytes: [UInt8]) -> Reply? {
        guard let total = totalLength(of: bytes), bytes.count >= total, let kind = Kind(rawValue: bytes[1]) else { return nil }
        var reply = Reply(kind: kind)
        let fieldsEnd = 16 + Int(readUInt32(bytes, 12))
        var at = 16
        var bodySignature = ""
        while at < fieldsEnd {
            at = (at + 7) / 8 * 8
            guard at + 2 < fieldsEnd else { break }
            let code = bytes[at]
            let sigLength = Int(bytes[at + 1])
            guard at + 2 + sigLength < bytes.count else { return nil }
            let sig = String(decoding: bytes[(at + 2)..<(at + 2 + sigLength)], as: UTF8.self)
            at += 3 + sigLength
            switch sig {
            case "s", "o":
                guard let (text, next) = readString(bytes, at) else { return nil }
                if code == HeaderField.errorName.rawValue { reply.errorName = text }
                at = next
            case "g":
                let length = Int(bytes[at])
                bodySignature = String(decoding: bytes[(at + 1)..<min(bytes.count, at + 1 + length)], as: UTF8.self)
                at += 2 + length
            case "u":
                at = (at + 3) / 4 * 4
                if code == HeaderField.replySerial.rawValue { reply.replySerial = readUInt32(bytes, at) }
                at += 4
            default:
                return reply  // a field the shim never needs: the rest is not read
            }
        }
        if bodySignature.first == "s" || bodySignature.first == "o" {
            let bodyStart = (fieldsEnd + 7) / 8 * 8
            reply.firstString = readString(bytes, bodyStart)?.0
        }
        return reply
    }

    private static func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        guard at + 4 <= bytes.count else { return 0 }
        return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    private static func readString(_ bytes: [UInt8], _ offset: Int) -> (String, Int)? {
        let at = (offset + 3) / 4 * 4
        let length = Int(readUInt32(bytes, at))
        guard at + 4 + length + 1 <= bytes.count else { return nil }
        let text = String(decoding: bytes[(at + 4)..<(at + 4 + length)], as: UTF8.self)
        return (text, at + 4 + length + 1)
    }
}
