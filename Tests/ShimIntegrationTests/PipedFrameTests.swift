import Foundation
import ShimProtocol
import XCTest

/// A ttrpc frame built by hand, byte by byte, piped into `ocishim serve`.
final class PipedFrameTests: XCTestCase {
    func testAHandBuiltHelloFrameGetsTheDocumentedAnswer() throws {
        let dir = try TestSupport.makeTemporaryDirectory(prefix: "piped", for: self)
        // ttrpc.Request{service: "ocishim.v1.Shim" (field 1), method: "Hello" (field 2)}
        let service = Array("ocishim.v1.Shim".utf8), method = Array("Hello".utf8)
        let request: [UInt8] = [0x0a, UInt8(service.count)] + service + [0x12, UInt8(method.count)] + method
        // header: length, stream id 1, type 1 (request), flags 0
        let frame: [UInt8] = [0, 0, 0, UInt8(request.count), 0, 0, 0, 1, 1, 0] + request

        let shim = Process()
        shim.executableURL = URL(fileURLWithPath: try TestSupport.ocishim())
        shim.arguments = ["serve", "--foreground", "--id", "piped", "--state-dir", dir]
        let input = Pipe(), output = Pipe()
        shim.standardInput = input
        shim.standardOutput = output
        try shim.run()
        try input.fileHandleForWriting.write(contentsOf: Data(frame))
        try input.fileHandleForWriting.close()
        let answer = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
        shim.waitUntilExit()

        XCTAssertGreaterThan(answer.count, 10)
        let length = Int(answer[0]) << 24 | Int(answer[1]) << 16 | Int(answer[2]) << 8 | Int(answer[3])
        XCTAssertEqual(length, answer.count - 10, "one frame, nothing else")
        XCTAssertEqual(Array(answer[4..<8]), [0, 0, 0, 1], "the same stream id")
        XCTAssertEqual(answer[8], 2, "a response frame")
        XCTAssertEqual(answer[9], 0, "no flags")
        let response = try Ttrpc_Response(serializedBytes: Array(answer[10...]))
        XCTAssertEqual(response.status.code, 0)
        let hello = try Ocishim_V1_HelloResponse(serializedBytes: [UInt8](response.payload))
        XCTAssertEqual(hello.containerID, "piped")
        XCTAssertEqual(hello.framing, "ttrpc/1.2")
        XCTAssertEqual(hello.protocolVersion, 1)
        XCTAssertEqual(hello.shimPid, shim.processIdentifier, "in the foreground the shim is the process started")
        XCTAssertEqual(shim.terminationStatus, 0, "EOF without a container: the shim exits cleanly")
    }
}
