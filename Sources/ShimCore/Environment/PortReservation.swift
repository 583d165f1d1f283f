import Glibc

/// One host port held open.
public struct ReservedPort: Sendable, Equatable {
    /// "tcp" or "udp".
    public let `protocol`: String
    /// As messages name it: "0.0.0.0" for every address, else the literal.
    public let address: String
    public let port: Int
    public let fd: Int32
}

/// podman's bindPorts: binds every requested host port and holds the
/// sockets for the container's life, so that no other process can take a
/// port between now and the moment the network setup forwards it to the
/// container, nor while the container runs.
///
/// All or nothing: when one port cannot be bound, the ones bound before it
/// are closed again and the error names the port that failed.
///
/// The sockets are close-on-exec: they must stay in the shim only. The
/// runtime and the container never see them (podman leaks them into conmon
/// on purpose; here the shim itself is the long-lived holder).
public final class PortReservation {
    public private(set) var ports: [ReservedPort]

    private init(ports: [ReservedPort]) {
        self.ports = ports
    }

    deinit { release() }

    /// Binds the host side of every mapping. SCTP is skipped, as podman
    /// skips it: there is no portable way to hold an SCTP port here.
    public static func reserve(_ specs: [PortSpec]) throws(CoreError) -> PortReservation {
        var bound: [ReservedPort] = []
        // A port listed twice (overlapping ranges, "tcp,tcp") would collide
        // with our own socket; reserve it once.
        var seen = Set<String>()
        do throws(CoreError) {
            for spec in specs {
                let ports = try spec.ports()
                let protocols = spec.protocols
                let address: HostAddress
                do throws(CoreError) {
                    address = try HostAddress(parsing: spec.hostIP)
                } catch {
                    throw CoreError(error.kind, "cannot reserve \(protocols.joined(separator: ",")) port \(spec.hostPort): \(error.message)")
                }
                for name in protocols {
                    switch name {
                    case "tcp", "udp": break
                    case "sctp": continue
                    default: throw .invalid("cannot reserve \(name) port \(spec.hostPort): unknown protocol \"\(name)\" (want tcp, udp or sctp)")
                    }
                    for port in ports where seen.insert("\(name) \(address.text) \(port)").inserted {
                        bound.append(try bindPort(name, address, port))
                    }
                }
            }
        } catch {
            for port in bound { close(port.fd) }
            throw error
        }
        return PortReservation(ports: bound)
    }

    /// Closes every socket; the ports are free for the next bind.
    public func release() {
        for port in ports { close(port.fd) }
        ports = []
    }

    private static func bindPort(_ name: String, _ address: HostAddress, _ port: Int) throws(CoreError) -> ReservedPort {
        let isTCP = name == "tcp"
        let type = Int32(isTCP ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        func failure(_ err: Int32) -> CoreError {
            let reason = String(cString: strerror(err))
            let message = "cannot reserve \(name) port \(port) on \(address.text): \(reason)"
            switch err {
            case EADDRINUSE: return CoreError(.alreadyExists, message)
            case EACCES, EPERM: return CoreError(.permissionDenied, message)
            case EADDRNOTAVAIL: return CoreError(.invalidArgument, message + " (not an address of this host)")
            default: return CoreError(.internal, message)
            }
        }

        // "Every address" is one dual-stack IPv6 socket, so that it covers
        // IPv6 too (what Go's listener does for podman); a host without IPv6
        // gets the IPv4 wildcard instead.
        var family = address.kind == .ipv4 ? AF_INET : AF_INET6
        var fd = socket(family, type, 0)
        if fd < 0 && address.kind == .any && errno == EAFNOSUPPORT {
            family = AF_INET
            fd = socket(family, type, 0)
        }
        if fd < 0 { throw failure(errno) }

        var on: Int32 = 1
        let optionSize = socklen_t(MemoryLayout<Int32>.size)
        if family == AF_INET6 {
            // An explicit IPv6 address (even "::") means IPv6 only; only
            // "every address" also claims IPv4.
            var v6only: Int32 = address.kind == .any ? 0 : 1
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, optionSize)
        }
        if isTCP {
            // As every server sets it: lets the reservation succeed while old
            // connections of a previous user linger in TIME_WAIT, yet still
            // conflicts with any live listener.
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, optionSize)
        }
        let result = address.withSockaddr(family: family, port: port) { bind(fd, $0, $1) }
        if result != 0 {
            let err = errno
            close(fd)
            throw failure(err)
        }
        // A TCP port is only held against binders with SO_REUSEADDR (most
        // servers) while the socket listens. Nobody accepts, so a longer
        // queue would only hold more connections that are never served.
        if isTCP && listen(fd, 1) != 0 {
            let err = errno
            close(fd)
            throw failure(err)
        }
        return ReservedPort(protocol: name, address: address.text, port: port, fd: fd)
    }
}
