import Glibc

/// Times as ocictl prints and reads them: RFC 3339 (runc's `created`,
/// k8s-file records, `logs --since`) and Go-style durations (`--since 10m`).
enum TimeText {
    /// Go's zero time, which runc and docker print for "never".
    static let never = "0001-01-01T00:00:00Z"

    /// Unix nanoseconds as RFC 3339 in UTC with nanoseconds, as runc prints
    /// `created` ("2026-12-07T02:26:50.198043328Z"); 0 is `never`.
    static func rfc3339(nanos: Int64) -> String {
        guard nanos != 0 else { return never }
        var seconds = time_t(nanos / 1_000_000_000)
        var fraction = nanos % 1_000_000_000
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format4(Int(parts.tm_year) + 1900)) + "-" + two(parts.tm_mon + 1) + "-" + two(parts.tm_mday)
            + "T" + two(parts.tm_hour) + ":" + two(parts.tm_min) + ":" + two(parts.tm_sec)
            + "." + nine(fraction) + "Z"
    }

    /// An RFC 3339 time (`2026-12-07T02:26:50Z`, `...50.1+01:00`) as Unix
    /// nanoseconds; nil if it is not one.
    static func parseRFC3339(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var v = 0
            for c in b[at..<at + count] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
              let day = digits(8, 2), b[10] == 84 || b[10] == 116 || b[10] == 32, let hour = digits(11, 2), b[13] == 58,
              let minute = digits(14, 2), b[16] == 58, let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var nanos = 0
        if index < b.count && b[index] == 46 {
            index += 1
            var scale = 100_000_000, count = 0
            while index < b.count, b[index] >= 48 && b[index] <= 57 {
                if count < 9 { nanos += Int(b[index] - 48) * scale; scale /= 10 }
                count += 1
                index += 1
            }
            guard count > 0 else { return nil }
        }
        guard index < b.count else { return nil }
        var offset = 0
        if b[index] == 90 || b[index] == 122 {
            index += 1
        } else if b[index] == 43 || b[index] == 45, let h = digits(index + 1, 2), b.count > index + 3, b[index + 3] == 58,
                  let m = digits(index + 4, 2) {
            offset = (h * 3600 + m * 60) * (b[index] == 45 ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == b.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = Int64(timegm(&parts)) - Int64(offset)
        return seconds * 1_000_000_000 + Int64(nanos)
    }

    /// A Go-style duration ("90s", "10m", "1h30m", "1.5h") in nanoseconds.
    static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isLetter }
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        return Int64(total)
    }

    private static func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private static func format4(_ v: Int) -> String {
        let s = String(v)
        return s.count >= 4 ? s : String(repeating: "0", count: 4 - s.count) + s
    }
    private static func nine(_ v: Int64) -> String {
        let s = String(v)
        return String(repeating: "0", count: 9 - s.count) + s
    }
}

/// Unix nanoseconds now.
func realtimeNanos() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
