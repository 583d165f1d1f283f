import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// A SOCK_SEQPACKET client of conmon's attach protocol, as podman is one.
final class SeqPacketClient {
    let fd: Int32

    /// Connects to `path`; a path longer than sun_path is reached through an
    /// O_PATH fd of its directory, as podman does.
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestSupport.SupportError("socket: \(errno)") }
        var dirFD: Int32 = -1
        var target = path
        if path.utf8.count > 107 {
            dirFD = open((path as NSString).deletingLastPathComponent, 0o10000000 | O_CLOEXEC)
            target = "/proc/self/fd/\(dirFD)/\((path as NSString).lastPathComponent)"
        }
        defer { if dirFD >= 0 { close(dirFD) } }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(target.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let e = errno
            close(fd)
            throw TestSupport.SupportError("connect \(target): errno \(e)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func closeWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// The next packet; nil at EOF. Fails after `seconds`.
    func receive(seconds: Double = 10) throws -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(seconds * 1000)) == 1 else { throw TestSupport.SupportError("no packet within \(seconds)s") }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw TestSupport.SupportError("recv: errno \(errno)") }
        return n == 0 ? nil : Array(buffer[0..<n])
    }

    /// Packets until `until` holds over what came, or EOF.
    func collect(until: ([[UInt8]]) -> Bool = { _ in false }) throws -> (packets: [[UInt8]], eof: Bool) {
        var packets: [[UInt8]] = []
        while !until(packets) {
            guard let packet = try receive() else { return (packets, true) }
            packets.append(packet)
        }
        return (packets, false)
    }

    /// The data of the packets of one stream (2 stdout, 3 stderr), joined.
    static func text(_ packets: [[UInt8]], stream: UInt8) -> String {
        String(decoding: packets.filter { $0.first == stream }.flatMap { $0.dropFirst() }, as: UTF8.self)
    }
}

final class ConmonSocketTests: XCTestCase {
    func testAttachSocketSpeaksConmonsProtocol() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/sh", "-c", "while read l; do echo \"$l\"; echo \"err:$l\" >&2; done"]) { $0.stdin = true }
        let path: Ocishim_V1_PathResponse = try shim.call("AttachSocketPath", Ocishim_V1_AttachSocketPathRequest())
        XCTAssertEqual(path.path, shim.stateDir + "/sockets/\(shim.id)/attach")
        // As conmon: <socket-dir>/<id> is a symlink to the directory of the
        // socket, which for `ocishim serve` is its state dir (conmon's is the
        // bundle; serve writes nothing there).
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: shim.stateDir + "/sockets/\(shim.id)"), shim.stateDir)
        var st = stat()
        XCTAssertEqual(stat(shim.stateDir + "/attach", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)

        let client = try SeqPacketClient(path: path.path)
        client.send("hello\n")
        let (packets, _) = try client.collect { SeqPacketClient.text($0, stream: 3).contains("err:hello\n") && SeqPacketClient.text($0, stream: 2).contains("hello\n") }
        XCTAssertEqual(SeqPacketClient.text(packets, stream: 2), "hello\n")
        XCTAssertEqual(SeqPacketClient.text(packets, stream: 3), "err:hello\n")
        // Long output comes in packets of at most 1 + 8192 bytes.
        let long = String(repeating: "x", count: 20000)
        client.send(long + "\n")
        let (big, _) = try client.collect { SeqPacketClient.text($0, stream: 2).hasSuffix("\n") }
        XCTAssertEqual(SeqPacketClient.text(big, stream: 2), long + "\n")
        XCTAssertTrue(big.allSatisfy { $0.count <= 8193 }, "\(big.map(\.count))")
        XCTAssertGreaterThanOrEqual(big.filter { $0.first == 2 }.count, 3)
        // A protocol client sees the same output.
        let rpc = try shim.attach { $0.stdout = true }
        client.send("both\n")
        var seen = AttachTranscript()
        try seen.read(rpc) { $0.stdoutText == "both\n" }
        // EOF from the client closes the container's stdin: the loop ends.
        client.closeWrite()
        let (rest, eof) = try client.collect()
        XCTAssertTrue(eof)
        XCTAssertEqual(SeqPacketClient.text(rest, stream: 2), "both\n")
        XCTAssertEqual(try shim.wait().exitCode, 0)
    }

    func testLongSocketDirIsBoundThroughProcAndFullAttachUsesTheStateDir() throws {
        let shim = try ShimHarness(self)
        let longDir = shim.dir + "/" + String(repeating: "d", count: 60) + "/" + String(repeating: "e", count: 60)
        try shim.startContainer(["/bin/cat"]) { $0.stdin = true; $0.socketDir = longDir }
        let path: Ocishim_V1_PathResponse = try shim.call("AttachSocketPath", Ocishim_V1_AttachSocketPathRequest())
        XCTAssertEqual(path.path, longDir + "/\(shim.id)/attach")
        XCTAssertGreaterThan(path.path.utf8.count, 107)
        let client = try SeqPacketClient(path: path.path)
        client.send("long path\n")
        let (packets, _) = try client.collect { SeqPacketClient.text($0, stream: 2) == "long path\n" }
        XCTAssertEqual(packets.first?.first, 2)

        let full = try ShimHarness(self, name: "full")
        let bundle = try full.startContainer(["/bin/cat"]) { $0.stdin = true; $0.fullAttach = true }
        let fullPath: Ocishim_V1_PathResponse = try full.call("AttachSocketPath", Ocishim_V1_AttachSocketPathRequest())
        XCTAssertEqual(fullPath.path, full.stateDir + "/attach")
        XCTAssertFalse(FileManager.default.fileExists(atPath: full.stateDir + "/sockets/\(full.id)"), "no symlink with full attach")
        let fullClient = try SeqPacketClient(path: fullPath.path)
        fullClient.send("full\n")
        let (got, _) = try fullClient.collect { SeqPacketClient.text($0, stream: 2) == "full\n" }
        XCTAssertFalse(got.isEmpty)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: bundle.path).sorted(), ["config.json", "rootfs"])
        // Delete removes the socket and the FIFOs.
        let _: Ocishim_V1_DeleteResponse = try full.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
        for name in ["attach", "ctl"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: full.stateDir + "/" + name), name)
        }
    }

    func testExecSessionHasItsOwnAttachSocket() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        let _: Ocishim_V1_ExecResponse = try shim.call("Exec", shim.execRequest("sock", ["/bin/cat"]) { $0.stdin = true })
        let path: Ocishim_V1_PathResponse = try shim.call("ExecAttachSocketPath", Ocishim_V1_ExecAttachSocketPathRequest.with { $0.execID = "sock" })
        let client = try SeqPacketClient(path: path.path)
        client.send("to exec\n")
        let (packets, _) = try client.collect { SeqPacketClient.text($0, stream: 2) == "to exec\n" }
        XCTAssertFalse(packets.isEmpty)
        client.closeWrite()
        let (_, eof) = try client.collect()
        XCTAssertTrue(eof, "the socket closes when the exec exits")
        XCTAssertEqual(try shim.waitExec("sock").exitCode, 0)
    }
}
