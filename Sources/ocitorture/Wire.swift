/// Protocol buffer wire encoding by hand: any value can be put in any field,
/// including values a typed message could not hold (a 10-byte varint in a
/// uint32 field, an unknown enum number).
enum Wire {
    static let varintType = 0
    static let fixed64Type = 1
    static let lengthType = 2
    static let fixed32Type = 5

    static func varint(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    static func tag(_ field: Int, _ wireType: Int) -> [UInt8] { varint(UInt64(field << 3 | wireType)) }

    static func varintField(_ field: Int, _ value: UInt64) -> [UInt8] { tag(field, varintType) + varint(value) }

    static func lengthField(_ field: Int, _ bytes: [UInt8]) -> [UInt8] {
        tag(field, lengthType) + varint(UInt64(bytes.count)) + bytes
    }

    static func fixed32Field(_ field: Int, _ value: UInt32) -> [UInt8] {
        tag(field, fixed32Type) + (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func fixed64Field(_ field: Int, _ value: UInt64) -> [UInt8] {
        tag(field, fixed64Type) + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    /// The 10-byte ttrpc header: length, stream id (big-endian), type, flags.
    static func frameHeader(length: UInt32, streamID: UInt32, type: UInt8, flags: UInt8) -> [UInt8] {
        bigEndian(length) + bigEndian(streamID) + [type, flags]
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
}
