/// A `binary:///path/to/logger?key=value&flag` stdio URI (containerd's
/// pluggable shim logging, as ctr's `--log-uri` and cio.BinaryIO write it):
/// the logging binary and its arguments, read as containerd's runc shim
/// reads them (pkg/process/io_util.go NewBinaryCmd, with Go's url.Parse and
/// Query): the URI's path, percent-decoded, is the program; each query key
/// becomes an argument followed by its first value ("" when it has none).
/// Keys keep the order they are written in (containerd's follow its map's,
/// which varies from run to run).
struct BinaryLogURI: Equatable {
    let path: String
    let arguments: [String]

    struct Invalid: Error, CustomStringConvertible { let description: String }

    init(path: String, arguments: [String]) {
        self.path = path
        self.arguments = arguments
    }

    init(parsing uri: String) throws(Invalid) {
        guard let (path, query) = StdioURI.pathAndQuery(of: uri) else {
            throw Invalid(description: "unable to parse stdout uri: invalid URL escape in \(uri)")
        }
        var order: [String] = []
        var first: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            // Go's ParseQuery drops what it cannot read (";" in a pair, a
            // bad escape) and Query() ignores that error.
            if pair.contains(";") { continue }
            let (rawKey, rawValue) = pair.firstIndex(of: "=").map { (pair[..<$0], pair[pair.index(after: $0)...]) } ?? (pair, "")
            guard let key = StdioURI.unescape(rawKey, plusIsSpace: true),
                  let value = StdioURI.unescape(rawValue, plusIsSpace: true) else { continue }
            if first[key] == nil {
                first[key] = value
                order.append(key)
            }
        }
        self.path = path
        self.arguments = order.flatMap { [$0, first[$0] ?? ""] }
    }
}
