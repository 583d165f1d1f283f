/// The values the numeric fuzzer puts in a field of each protobuf scalar
/// type, encoded by hand: the type's bounds, -1 (a 10-byte varint), and
/// values just past the bounds that a typed encoder could not produce
/// (2^32 in a uint32, unknown enum numbers).
struct FuzzValue {
    let label: String
    let wireType: Int
    let bytes: [UInt8]
    /// 0 and 1 (ordinary), and values past a type's range that decode
    /// like one of the extremes: left out of a --quick run.
    let ordinary: Bool

    /// The field `number` with this value.
    func field(_ number: Int) -> [UInt8] { Wire.tag(number, wireType) + bytes }
}

enum NumericValues {
    static func values(for kind: String) -> [FuzzValue] {
        func v(_ label: String, _ value: UInt64, ordinary: Bool = false) -> FuzzValue {
            FuzzValue(label: label, wireType: Wire.varintType, bytes: Wire.varint(value), ordinary: ordinary)
        }
        func signed(_ label: String, _ value: Int64, ordinary: Bool = false) -> FuzzValue {
            v(label, UInt64(bitPattern: value), ordinary: ordinary)
        }
        func zigzag(_ label: String, _ value: Int64, ordinary: Bool = false) -> FuzzValue {
            v(label, Wire.zigzag(value), ordinary: ordinary)
        }
        func fixed32(_ label: String, _ value: UInt32, ordinary: Bool = false) -> FuzzValue {
            FuzzValue(label: label, wireType: Wire.fixed32Type,
                      bytes: Array(Wire.fixed32Field(1, value).dropFirst()), ordinary: ordinary)
        }
        func fixed64(_ label: String, _ value: UInt64, ordinary: Bool = false) -> FuzzValue {
            FuzzValue(label: label, wireType: Wire.fixed64Type,
                      bytes: Array(Wire.fixed64Field(1, value).dropFirst()), ordinary: ordinary)
        }
        let zeroOne = [v("0", 0, ordinary: true), v("1", 1, ordinary: true)]
        switch kind {
        case "int32":
            return zeroOne + [signed("2^31-1", Int64(Int32.max)), signed("-2^31", Int64(Int32.min)), signed("-1", -1)]
        case "enum":
            return zeroOne + [signed("99 (no such value)", 99, ordinary: true), signed("2^31-1", Int64(Int32.max)),
                              signed("-2^31", Int64(Int32.min)), signed("-1", -1)]
        case "int64":
            return zeroOne + [signed("2^63-1", Int64.max), signed("-2^63", Int64.min), signed("-1", -1)]
        case "uint32":
            return zeroOne + [v("2^32-1", UInt64(UInt32.max)), v("2^32 (past uint32)", 1 << 32, ordinary: true), v("-1 (2^64-1 on the wire)", UInt64.max)]
        case "uint64":
            return zeroOne + [v("2^63", 1 << 63, ordinary: true), v("2^64-1", UInt64.max)]
        case "sint32":
            return zeroOne.map { zigzag($0.label, Int64($0.label)!, ordinary: true) }
                + [zigzag("2^31-1", Int64(Int32.max)), zigzag("-2^31", Int64(Int32.min)), zigzag("-1", -1)]
        case "sint64":
            return zeroOne.map { zigzag($0.label, Int64($0.label)!, ordinary: true) }
                + [zigzag("2^63-1", Int64.max), zigzag("-2^63", Int64.min), zigzag("-1", -1)]
        case "bool":
            return zeroOne + [v("2", 2, ordinary: true), v("2^64-1", UInt64.max)]
        case "fixed32":
            return [fixed32("0", 0, ordinary: true), fixed32("1", 1, ordinary: true), fixed32("2^32-1", UInt32.max)]
        case "sfixed32":
            return [fixed32("0", 0, ordinary: true), fixed32("1", 1, ordinary: true), fixed32("2^31-1", UInt32(Int32.max)),
                    fixed32("-2^31", UInt32(bitPattern: Int32.min)), fixed32("-1", UInt32.max)]
        case "fixed64":
            return [fixed64("0", 0, ordinary: true), fixed64("1", 1, ordinary: true), fixed64("2^64-1", UInt64.max)]
        case "sfixed64":
            return [fixed64("0", 0, ordinary: true), fixed64("1", 1, ordinary: true), fixed64("2^63-1", UInt64(Int64.max)),
                    fixed64("-2^63", UInt64(bitPattern: Int64.min)), fixed64("-1", UInt64.max)]
        case "float":
            return [Float(0), -0.0, .nan, .infinity, -.infinity, .greatestFiniteMagnitude].map {
                fixed32("\($0)", $0.bitPattern, ordinary: $0 == 0)
            }
        case "double":
            return [Double(0), -0.0, .nan, .infinity, -.infinity, .greatestFiniteMagnitude].map {
                fixed64("\($0)", $0.bitPattern, ordinary: $0 == 0)
            }
        default:
            return []
        }
    }

    /// ttrpc's Request.timeout_nano (int64): the deadline of every call.
    static let timeouts: [(label: String, nanos: Int64, ordinary: Bool)] = [
        ("0 (none)", 0, true), ("1 ns", 1, false), ("1 us", 1_000, true), ("2^62", 1 << 62, true),
        ("2^63-1", Int64.max, false), ("-2^63", Int64.min, false), ("-1", -1, false),
    ]
}
