import ShimSystem

/// The parts of a stdio URI containerd's runc shim reads (Go's url.Parse in
/// pkg/process/io.go): its scheme, its path and its query. A plain path
/// (a FIFO's) has no scheme.
enum StdioURI {
    /// The scheme, lowercased, as Go's url.Parse finds one: a letter, then
    /// letters, digits, "+", "-" or "." up to a ":". nil for "/path".
    static func scheme(of uri: String) -> String? {
        guard let first = uri.first, first.isASCII, first.isLetter, let colon = uri.firstIndex(of: ":") else { return nil }
        let name = uri[..<colon]
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }) else { return nil }
        return name.lowercased()
    }

    /// The path (percent-decoded; "" when the URI has none, or an opaque
    /// "scheme:name") and the raw query of a URI with a scheme; nil for a
    /// bad escape in the path. The authority of "scheme://host/path" is not
    /// part of the path.
    static func pathAndQuery(of uri: String) -> (path: String, query: Substring)? {
        guard let colon = uri.firstIndex(of: ":") else { return (uri, "") }
        var rest = uri[uri.index(after: colon)...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.hasPrefix("//") {
            let authority = rest.dropFirst(2)
            rest = authority.firstIndex(of: "/").map { authority[$0...] } ?? ""
        }
        if !rest.hasPrefix("/") { rest = "" }
        guard let path = unescape(rest, plusIsSpace: false) else { return nil }
        return (path, query)
    }

    /// %XX decoding (and "+" as a space in a query); nil for a bad escape.
    static func unescape(_ text: Substring, plusIsSpace: Bool) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = utf8.next().flatMap(HexDigit.value), let low = utf8.next().flatMap(HexDigit.value) else { return nil }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
