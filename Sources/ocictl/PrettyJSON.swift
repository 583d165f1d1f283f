import ShimSystem

extension JSONValue {
    /// Indented by two spaces, keys in their order, as runc prints
    /// `runc state`.
    var pretty: String {
        var out = ""
        writePretty(into: &out, indent: "")
        return out
    }

    private func writePretty(into out: inout String, indent: String) {
        let inner = indent + "  "
        switch self {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (n, item) in items.enumerated() {
                out += inner
                item.writePretty(into: &out, indent: inner)
                out += n + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            for (n, (key, value)) in members.enumerated() {
                out += inner + JSONValue.string(key).serialized + ": "
                value.writePretty(into: &out, indent: inner)
                out += n + 1 < members.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default:
            out += serialized
        }
    }
}
