import Glibc

/// The host address of a port mapping, parsed once and turned into the
/// sockaddr that bind(2) needs.
struct HostAddress: Equatable {
    enum Kind: Equatable {
        /// "": every address of the host.
        case any
        case ipv4
        case ipv6
    }

    let kind: Kind
    /// The address in network byte order: 4 bytes, 16 bytes, or none for .any.
    let bytes: [UInt8]
    /// How error messages name it: "0.0.0.0" for every address, as users
    /// know it from `ss`/`podman port`, the literal otherwise.
    let text: String

    static let any = HostAddress(kind: .any, bytes: [], text: "0.0.0.0")

    /// Parses "" or an IPv4/IPv6 literal; IPv6 may come in brackets ("[::1]").
    init(parsing hostIP: String) throws(CoreError) {
        var literal = hostIP
        if literal.isEmpty {
            self = .any
            return
        }
        if literal.hasPrefix("[") && literal.hasSuffix("]") {
            literal = String(literal.dropFirst().dropLast())
        }
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, literal, &v4) == 1 {
            self.init(kind: .ipv4, bytes: v4, text: literal)
            return
        }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, literal, &v6) == 1 {
            self.init(kind: .ipv6, bytes: v6, text: literal)
            return
        }
        throw .invalid("host IP \"\(hostIP)\" is not an IPv4 or IPv6 address")
    }

    private init(kind: Kind, bytes: [UInt8], text: String) {
        self.kind = kind
        self.bytes = bytes
        self.text = text
    }

    /// Calls `body` with the sockaddr for `port` in `family`: AF_INET for
    /// .ipv4, AF_INET6 for .ipv6, either for .any (the wildcard of it).
    func withSockaddr<R>(family: Int32, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port)).bigEndian
            if kind == .ipv4 {
                withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: bytes) }
            }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port)).bigEndian
        if kind == .ipv6 {
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }
}
