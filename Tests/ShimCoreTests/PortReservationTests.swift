import Glibc
import XCTest
@testable import ShimCore
import ShimSystem

final class PortReservationTests: XCTestCase {
    // MARK: helpers: plain sockets, as another program would open them

    /// A socket bound like a typical server's (SO_REUSEADDR, listening for
    /// TCP); nil with errno when the bind fails.
    private func bindLikeAServer(_ type: Int32, port: Int, host: String = "0.0.0.0") -> Int32? {
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound != 0 || (type == Int32(SOCK_STREAM.rawValue) && listen(fd, 8) != 0) {
            let err = errno
            close(fd)
            errno = err
            return nil
        }
        return fd
    }

    /// bind(2) of a TCP socket to an IPv6 address; 0 or the errno.
    private func bindIPv6Result(port: Int, host: String) -> Int32 {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET6, host, &address.sin6_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        return bound == 0 ? 0 : errno
    }

    private var tcp: Int32 { Int32(SOCK_STREAM.rawValue) }
    private var udp: Int32 { Int32(SOCK_DGRAM.rawValue) }

    /// `count` consecutive ports that are free for both TCP and UDP right now.
    private func freePorts(_ count: Int = 1) throws -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 20000...(60000 - count))
            var held: [Int32] = []
            var ok = true
            for port in base..<(base + count) {
                for type in [tcp, udp] {
                    guard let fd = bindLikeAServer(type, port: port) else { ok = false; break }
                    held.append(fd)
                }
                if !ok { break }
            }
            for fd in held { close(fd) }
            if ok { return base }
        }
        throw XCTSkip("found no \(count) consecutive free ports")
    }

    private func isCloseOnExec(_ fd: Int32) -> Bool {
        fcntl(fd, F_GETFD) & FD_CLOEXEC != 0
    }

    // MARK: tests

    func testAReservedTCPPortCannotBeBoundByAnotherProgram() throws {
        let port = try freePorts()
        let reservation = try PortReservation.reserve([PortSpec(protocol: "tcp", hostPort: port)])
        XCTAssertEqual(reservation.ports.map(\.port), [port])
        XCTAssertEqual(reservation.ports.first?.protocol, "tcp")
        XCTAssertTrue(reservation.ports.allSatisfy { isCloseOnExec($0.fd) }, "the sockets must not leak into the runtime")

        XCTAssertNil(bindLikeAServer(tcp, port: port))
        XCTAssertEqual(errno, EADDRINUSE)
        XCTAssertNil(bindLikeAServer(tcp, port: port, host: "127.0.0.1"), "every address includes loopback")
        if FileSystem.exists("/proc/net/if_inet6") {
            XCTAssertEqual(bindIPv6Result(port: port, host: "::1"), EADDRINUSE, "every address includes IPv6")
        }

        reservation.release()
        XCTAssertEqual(reservation.ports, [])
        let fd = try XCTUnwrap(bindLikeAServer(tcp, port: port), "released ports are free again")
        close(fd)
    }

    func testATakenPortFailsNamingItAndReleasesTheEarlierPorts() throws {
        let free = try freePorts()
        let taken = try freePorts()
        let holder = try XCTUnwrap(bindLikeAServer(tcp, port: taken))
        defer { close(holder) }

        XCTAssertThrowsError(try PortReservation.reserve([
            PortSpec(protocol: "tcp,udp", hostPort: free),
            PortSpec(protocol: "tcp", hostPort: taken),
        ])) { error in
            let error = error as! CoreError
            XCTAssertEqual(error.message, "cannot reserve tcp port \(taken) on 0.0.0.0: Address already in use")
            XCTAssertEqual(error.kind, .alreadyExists)
        }
        // Nothing of the failed request stays bound.
        let tcpAgain = try XCTUnwrap(bindLikeAServer(tcp, port: free), "the earlier tcp port was released")
        close(tcpAgain)
        let udpAgain = try XCTUnwrap(bindLikeAServer(udp, port: free), "the earlier udp port was released")
        close(udpAgain)
    }

    func testUDPPortsAreHeldToo() throws {
        let port = try freePorts()
        let reservation = try PortReservation.reserve([PortSpec(protocol: "udp", hostIP: "127.0.0.1", hostPort: port)])
        defer { reservation.release() }
        XCTAssertEqual(reservation.ports, [ReservedPort(protocol: "udp", address: "127.0.0.1", port: port, fd: reservation.ports[0].fd)])
        XCTAssertNil(bindLikeAServer(udp, port: port, host: "127.0.0.1"))
        XCTAssertEqual(errno, EADDRINUSE)
        // Only UDP was asked for: TCP on the same number stays free.
        let tcpFD = try XCTUnwrap(bindLikeAServer(tcp, port: port, host: "127.0.0.1"))
        close(tcpFD)
    }

    func testARangeReservesEveryPortOfBothProtocols() throws {
        let base = try freePorts(3)
        let reservation = try PortReservation.reserve([PortSpec(protocol: "tcp,udp", hostPort: base, range: 3)])
        defer { reservation.release() }
        XCTAssertEqual(reservation.ports.map { "\($0.protocol)/\($0.port)" },
                       ["tcp/\(base)", "tcp/\(base + 1)", "tcp/\(base + 2)",
                        "udp/\(base)", "udp/\(base + 1)", "udp/\(base + 2)"])
        for port in base..<(base + 3) {
            XCTAssertNil(bindLikeAServer(tcp, port: port), "tcp \(port)")
            XCTAssertNil(bindLikeAServer(udp, port: port), "udp \(port)")
        }
    }

    func testRangeZeroAndOneMeanOnePortAndDuplicatesAreReservedOnce() throws {
        let base = try freePorts(2)
        let reservation = try PortReservation.reserve([
            PortSpec(protocol: "tcp", hostPort: base, range: 0),
            PortSpec(protocol: "TCP, tcp", hostPort: base, range: 1),
            PortSpec(protocol: "", hostPort: base + 1),
        ])
        defer { reservation.release() }
        XCTAssertEqual(reservation.ports.map(\.port), [base, base + 1])
        XCTAssertEqual(reservation.ports.map(\.protocol), ["tcp", "tcp"], "an empty protocol means tcp")
    }

    func testSCTPIsSkipped() throws {
        let port = try freePorts()
        let reservation = try PortReservation.reserve([PortSpec(protocol: "sctp,udp", hostPort: port)])
        defer { reservation.release() }
        XCTAssertEqual(reservation.ports.map(\.protocol), ["udp"])
        let only = try PortReservation.reserve([PortSpec(protocol: "sctp", hostPort: port)])
        XCTAssertEqual(only.ports, [])
    }

    func testAnInvalidIPIsAClearError() {
        XCTAssertThrowsError(try PortReservation.reserve([PortSpec(protocol: "tcp", hostIP: "300.1.2.3", hostPort: 8080)])) { error in
            let error = error as! CoreError
            XCTAssertEqual(error.kind, .invalidArgument)
            XCTAssertEqual(error.message, "cannot reserve tcp port 8080: host IP \"300.1.2.3\" is not an IPv4 or IPv6 address")
        }
        XCTAssertThrowsError(try PortReservation.reserve([PortSpec(protocol: "udp", hostIP: "localhost", hostPort: 53)])) { error in
            XCTAssertTrue((error as! CoreError).message.contains("udp port 53"), "\(error)")
        }
    }

    func testAnAddressThatIsNotOnThisHostIsAClearError() {
        // TEST-NET-1 (RFC 5737) is never a local address.
        XCTAssertThrowsError(try PortReservation.reserve([PortSpec(protocol: "tcp", hostIP: "192.0.2.1", hostPort: 8080)])) { error in
            let error = error as! CoreError
            XCTAssertTrue(error.message.hasPrefix("cannot reserve tcp port 8080 on 192.0.2.1: Cannot assign requested address"), error.message)
        }
    }

    func testBadPortsAndProtocolsAreClearErrors() {
        let cases: [(PortSpec, String)] = [
            (PortSpec(protocol: "tcp", hostPort: 0), "cannot reserve tcp port 0: a host port must be between 1 and 65535"),
            (PortSpec(protocol: "udp", hostPort: 70000), "cannot reserve udp port 70000: a host port must be between 1 and 65535"),
            (PortSpec(protocol: "tcp", hostPort: 65535, range: 2), "cannot reserve tcp ports 65535-65536: a range must end at or below 65535"),
            (PortSpec(protocol: "tcp", hostPort: 80, range: -1), "cannot reserve tcp port 80: the port range -1 is negative"),
            (PortSpec(protocol: "icmp", hostPort: 8080), "cannot reserve icmp port 8080: unknown protocol \"icmp\" (want tcp, udp or sctp)"),
        ]
        for (spec, message) in cases {
            XCTAssertThrowsError(try PortReservation.reserve([spec])) { error in
                XCTAssertEqual((error as! CoreError).message, message)
                XCTAssertEqual((error as! CoreError).kind, .invalidArgument)
            }
        }
    }

    func testIPv6LoopbackIsReservedOnIPv6Only() throws {
        let port = try freePorts()
        guard FileSystem.exists("/proc/net/if_inet6") else { throw XCTSkip("no IPv6 on this host") }
        let reservation = try PortReservation.reserve([PortSpec(protocol: "tcp", hostIP: "[::1]", hostPort: port)])
        defer { reservation.release() }
        XCTAssertEqual(reservation.ports.first?.address, "::1")
        // The IPv4 side is not claimed by an explicit IPv6 address.
        let v4 = try XCTUnwrap(bindLikeAServer(tcp, port: port, host: "127.0.0.1"))
        close(v4)
    }

    func testReleasingTwiceAndDroppingTheReservationAreHarmless() throws {
        let port = try freePorts()
        do {
            let reservation = try PortReservation.reserve([PortSpec(protocol: "tcp", hostPort: port)])
            reservation.release()
            reservation.release()
            _ = try PortReservation.reserve([PortSpec(protocol: "tcp", hostPort: port)])
            // dropped here: deinit closes it
        }
        let fd = try XCTUnwrap(bindLikeAServer(tcp, port: port))
        close(fd)
    }
}
