import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// Clients that do not keep up: their output waits in the shim (a
/// WriteQueue each) without holding up the container, goes out when they
/// read again, and has a limit past which the client is let go.
final class SlowClientTests: XCTestCase {
    /// The container waits for "go" on stdin, writes `size` bytes of "x" to
    /// stdout, then runs `then`.
    private func startWriter(_ shim: ShimHarness, size: Int, then: String) throws {
        try shim.startContainer(["/bin/sh", "-c", "read go; head -c \(size) /dev/zero | tr '\\0' x; \(then)"]) { $0.stdin = true }
    }

    /// `startWriter` with a client on conmon's attach socket, which says go.
    private func startWriterForAttachSocket(_ shim: ShimHarness, size: Int, then: String) throws -> SeqPacketClient {
        try startWriter(shim, size: size, then: then)
        let path: Ocishim_V1_PathResponse = try shim.call("AttachSocketPath", Ocishim_V1_AttachSocketPathRequest())
        let client = try SeqPacketClient(path: path.path)
        client.send("go\n")
        return client
    }

    /// Once the log has all of it, every byte has been handed to each attach
    /// client too.
    private func waitUntilLogged(_ shim: ShimHarness, _ size: Int) throws {
        XCTAssertTrue(try shim.eventually(30) { try shim.logText().utf8.count >= size }, "the container's output never reached the log")
    }

    /// On `<state-dir>/shim.sock` one fd carries both directions. Output that
    /// waited while the socket was full must go out once the client reads,
    /// with nothing more happening in the container to push it along.
    func testOutputThatWaitedForASlowSocketClientAllArrives() throws {
        let shim = try ShimHarness(self)
        let size = 3_000_000
        try startWriter(shim, size: size, then: "sleep 1000")
        let client = try ShimClient.connect(stateDir: shim.stateDir)
        client.timeoutSeconds = 60
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with {
            $0.options.stdin = true
            $0.options.stdout = true
        })
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("go\n".utf8) })
        try waitUntilLogged(shim, size)
        var seen = AttachTranscript()
        try seen.read(stream, seconds: 20) { $0.stdout.count >= size }
        XCTAssertEqual(seen.stdout.count, size)
        XCTAssertTrue(seen.stdout.allSatisfy { $0 == UInt8(ascii: "x") })
        XCTAssertEqual(seen.dropped, 0)
    }

    /// conmon's attach socket: a client that reads only after the exit gets
    /// every byte, in whole packets, then EOF.
    func testASlowAttachSocketClientGetsItsQueuedPacketsThenEOF() throws {
        let shim = try ShimHarness(self)
        let size = 2_000_000
        let client = try startWriterForAttachSocket(shim, size: size, then: "exit 0")
        XCTAssertEqual(try shim.wait().exitCode, 0)
        let (packets, eof) = try client.collect()
        XCTAssertTrue(eof, "the socket closes once the queued output is written")
        XCTAssertEqual(SeqPacketClient.text(packets, stream: 2), String(repeating: "x", count: size))
        XCTAssertTrue(packets.allSatisfy { $0.count >= 2 && $0.count <= 8193 && $0.first == 2 },
                      "packets split or merged: \(Set(packets.map(\.count)).sorted().prefix(10))")
    }

    /// An attach socket client that does not read past the limit is
    /// disconnected; the container is not held up.
    func testAnAttachSocketClientThatDoesNotReadIsLetGo() throws {
        let shim = try ShimHarness(self)
        let size = 8_000_000
        let client = try startWriterForAttachSocket(shim, size: size, then: "sleep 1000")
        try waitUntilLogged(shim, size)
        let (packets, eof) = try client.collect()
        XCTAssertTrue(eof, "disconnected")
        let received = packets.reduce(0) { $0 + $1.count - 1 }
        XCTAssertLessThan(received, size)
        XCTAssertGreaterThan(received, 0)
        XCTAssertEqual(try shim.state().status, .running)
    }
}
