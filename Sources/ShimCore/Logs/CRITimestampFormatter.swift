import Glibc

/// The timestamp of a CRI (k8s-file) log record, exactly as conmon 2.1.6
/// prints it: local time, `%d-%02d-%02dT%02d:%02d:%02d.%09ld%c%02d:%02d`,
/// the offset taken from tm_gmtoff as hours and minutes (seconds of an odd
/// historical offset are dropped by the same integer division conmon uses):
///
///     2026-11-30T09:12:01.000000123+01:00
///     2026-11-30T05:42:01.000000123-03:30
///
/// It is formatted once per chunk, so the expensive part — localtime_r and
/// the text of date, time and offset — is cached per second: within a
/// second a chunk only costs nine digits and two copies.
struct CRITimestampFormatter {
    /// Room for any timestamp, whatever the number of digits of the year.
    static let capacity = 48

    private var cachedSecond: Int64?
    private var secondText: [UInt8] = []  // "2026-11-30T09:12:01"
    private var offsetText: [UInt8] = []  // "+01:00"

    init() {
        // localtime_r need not look at TZ; conmon calls tzset() once before
        // its first timestamp, and so do we.
        tzset()
    }

    /// Writes the timestamp of `nanos` (Unix time in nanoseconds) at `out`,
    /// which has room for `capacity` bytes, and returns its length.
    mutating func format(_ nanos: Int64, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var seconds = nanos / 1_000_000_000
        var fraction = nanos % 1_000_000_000
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        if seconds != cachedSecond { describe(second: seconds) }

        var length = Self.copy(secondText, to: out)
        out[length] = UInt8(ascii: ".")
        length += 1
        for index in stride(from: length + 8, through: length, by: -1) {
            out[index] = UInt8(ascii: "0") + UInt8(fraction % 10)
            fraction /= 10
        }
        length += 9
        length += Self.copy(offsetText, to: out + length)
        return length
    }

    /// The date, time and offset of one second, in the local time zone.
    private mutating func describe(second: Int64) {
        var time = time_t(second)
        var parts = tm()
        // Out of localtime's range (not a real clock): print it as UTC
        // rather than drop the output, as conmon would.
        if localtime_r(&time, &parts) == nil && gmtime_r(&time, &parts) == nil {
            parts = tm()
        }
        var text = Array(String(Int(parts.tm_year) + 1900).utf8)
        for (separator, value) in [("-", parts.tm_mon + 1), ("-", parts.tm_mday), ("T", parts.tm_hour),
                                   (":", parts.tm_min), (":", parts.tm_sec)] {
            text.append(UInt8(ascii: separator.unicodeScalars.first!))
            Self.appendTwoDigits(Int(value), to: &text)
        }
        secondText = text

        let offset = parts.tm_gmtoff
        var zone: [UInt8] = [offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")]
        let magnitude = abs(offset)
        Self.appendTwoDigits(magnitude / 3600, to: &zone)
        zone.append(UInt8(ascii: ":"))
        Self.appendTwoDigits((magnitude % 3600) / 60, to: &zone)
        offsetText = zone
        cachedSecond = second
    }

    /// printf's %02d: at least two digits.
    private static func appendTwoDigits(_ value: Int, to text: inout [UInt8]) {
        if value >= 0 && value < 10 { text.append(UInt8(ascii: "0")) }
        text.append(contentsOf: String(value).utf8)
    }

    private static func copy(_ bytes: [UInt8], to out: UnsafeMutablePointer<UInt8>) -> Int {
        bytes.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
        return bytes.count
    }
}
