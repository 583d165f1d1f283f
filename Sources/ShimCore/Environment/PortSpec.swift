/// One port mapping of a container, as far as reserving its host side goes
/// (podman's types.PortMapping without the container port).
public struct PortSpec: Sendable, Equatable {
    /// "tcp", "udp", "sctp" or a comma list of them ("tcp,udp"); "" means tcp,
    /// the default every engine applies to a mapping without a protocol.
    public var `protocol`: String
    /// An IPv4 or IPv6 literal; "" for every address of the host.
    public var hostIP: String
    public var hostPort: Int
    /// How many consecutive ports, starting at hostPort; 0 counts as 1.
    public var range: Int

    public init(protocol: String = "tcp", hostIP: String = "", hostPort: Int, range: Int = 1) {
        self.protocol = `protocol`
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.range = range
    }

    /// The transport protocols named, lowercased, without blanks.
    var protocols: [String] {
        let names = self.protocol.split(separator: ",").map { part in
            String(part.filter { $0 != " " && $0 != "\t" }).lowercased()
        }.filter { !$0.isEmpty }
        return names.isEmpty ? ["tcp"] : names
    }

    /// The host ports covered, validated: 1...65535 and within range.
    func ports() throws(CoreError) -> ClosedRange<Int> {
        let name = self.protocol.isEmpty ? "tcp" : self.protocol
        guard hostPort >= 1 && hostPort <= 65535 else {
            throw .invalid("cannot reserve \(name) port \(hostPort): a host port must be between 1 and 65535")
        }
        guard range >= 0 else {
            throw .invalid("cannot reserve \(name) port \(hostPort): the port range \(range) is negative")
        }
        let last = hostPort + max(range, 1) - 1
        guard last <= 65535 else {
            throw .invalid("cannot reserve \(name) ports \(hostPort)-\(last): a range must end at or below 65535")
        }
        return hostPort...last
    }
}
