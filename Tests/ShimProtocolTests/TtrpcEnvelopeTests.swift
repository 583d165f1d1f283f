import SwiftProtobuf
import XCTest
@testable import ShimProtocol

/// The server reads and writes ttrpc's envelopes itself (TtrpcEnvelope.swift);
/// engines use the generated Ttrpc_Request and Ttrpc_Response. Both must
/// mean the same bytes, including for input the server refuses.
final class TtrpcEnvelopeTests: XCTestCase {
    private func generated(_ service: String, _ method: String, _ payload: [UInt8], timeout: Int64 = 0) throws -> [UInt8] {
        var request = Ttrpc_Request()
        request.service = service
        request.method = method
        request.payload = .init(payload)
        request.timeoutNano = timeout
        return try request.serializedBytes()
    }

    func testRequestsDecodeAsTheGeneratedMessageReadsThem() throws {
        let cases: [(String, String, [UInt8], Int64)] = [
            ("ocishim.v1.Shim", "Create", Array("\u{0a}\u{03}abc".utf8), 0),
            ("ocishim.v1.Shim", "State", [], 5_000_000_000),
            ("", "", [], 0),
            ("ocishim.v1.Shim", "Exec", [UInt8](repeating: 0xff, count: 70_000), -1),
            ("dienst.v1.ü", "Größe", [0, 1, 2], Int64.max),
        ]
        for (service, method, payload, timeout) in cases {
            let bytes = try generated(service, method, payload, timeout: timeout)
            let fast = try XCTUnwrap(bytes.withUnsafeBytes { RequestEnvelope.read($0) }, "the server's reader took \(method)")
            XCTAssertEqual(fast, RequestEnvelope(service: service, method: method, payload: payload, timeoutNano: timeout))
            XCTAssertEqual(try RequestEnvelope(decoding: bytes), fast)
        }
    }

    /// Metadata (field 5) and fields a later ttrpc may add are left to the
    /// generated decoder: the request still decodes.
    func testMetadataAndUnknownFieldsGoThroughTheGeneratedDecoder() throws {
        var request = Ttrpc_Request()
        request.service = "ocishim.v1.Shim"
        request.method = "Hello"
        request.payload = .init([1, 2, 3])
        request.metadata = [.with { $0.key = "k"; $0.value = "v" }]
        var bytes: [UInt8] = try request.serializedBytes()
        XCTAssertNil(bytes.withUnsafeBytes { RequestEnvelope.read($0) })
        XCTAssertEqual(try RequestEnvelope(decoding: bytes), RequestEnvelope(service: "ocishim.v1.Shim", method: "Hello", payload: [1, 2, 3]))
        bytes += [0xa0, 0x06, 0x07]  // field 100, varint 7
        XCTAssertEqual(try RequestEnvelope(decoding: bytes).method, "Hello")
    }

    /// What the server refuses, it refuses with swift-protobuf's own words
    /// (the transcripts and engines see "unmarshal request error: ...").
    func testMalformedRequestsFailWithTheGeneratedDecodersError() {
        let inputs: [[UInt8]] = [
            [0xff, 0xff, 0xff, 0xff],                     // a varint that never ends
            [0x0a, 0x05, 0x61],                           // a string longer than the bytes
            [0x12, 0x02, 0xc0, 0x80],                     // method: overlong UTF-8
            [0x12, 0x03, 0xed, 0xa0, 0x80],               // method: a surrogate
            [0x0b],                                       // a group start
        ]
        for input in inputs {
            var expected = ""
            do { _ = try Ttrpc_Request(serializedBytes: input) } catch { expected = "\(error)" }
            XCTAssertFalse(expected.isEmpty, "swift-protobuf refuses \(input)")
            XCTAssertNil(input.withUnsafeBytes { RequestEnvelope.read($0) })
            XCTAssertThrowsError(try RequestEnvelope(decoding: input), "\(input)") { error in
                XCTAssertEqual("\(error)", expected)
            }
        }
    }

    func testUTF8CheckAgreesWithTheStandardLibrary() {
        var sequences: [[UInt8]] = []
        for first in 0...255 {
            sequences.append([UInt8(first)])
            for second in stride(from: 0, through: 255, by: 1) { sequences.append([UInt8(first), UInt8(second)]) }
        }
        for lead in [0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5] as [UInt8] {
            for second in stride(from: 0x70, through: 0xc0, by: 4) {
                for third in [0x7f, 0x80, 0xbf, 0xc0] as [UInt8] {
                    sequences.append([lead, UInt8(second), third])
                    sequences.append([lead, UInt8(second), third, 0x80])
                    sequences.append([lead, UInt8(second), third, 0xbf])
                }
            }
        }
        sequences.append(Array("plain ascii, ünïcödé, 日本語, 🦀".utf8))
        for bytes in sequences {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            XCTAssertEqual(bytes.withUnsafeBytes { WireReader.isValidUTF8($0) }, expected, "\(bytes.map { String($0, radix: 16) })")
        }
    }

    func testResponsesAreTheBytesOfTheGeneratedMessage() throws {
        for payload in [[], [0x08, 0x01], [UInt8](repeating: 7, count: 300)] as [[UInt8]] {
            var response = Ttrpc_Response()
            response.payload = .init(payload)
            XCTAssertEqual(ResponseEnvelope.success(payload), try response.serializedBytes())
        }
        for error in [RPCError(.notFound, "container c1 does not exist"), RPCError(.invalidArgument, ""),
                      RPCError(.unknown, "ü"), RPCError(.unauthenticated, String(repeating: "x", count: 200)),
                      // A reason travels as a google.rpc.ErrorInfo in the status's details.
                      RPCError(.notFound, "exec failed: no such file", reason: RPCReason.commandNotFound),
                      RPCError(.permissionDenied, "", reason: RPCReason.commandNotExecutable)] {
            var response = Ttrpc_Response()
            response.status = error.status
            let bytes = ResponseEnvelope.failure(error)
            XCTAssertEqual(bytes, try response.serializedBytes(), "\(error)")
            XCTAssertEqual(RPCError(status: try Ttrpc_Response(serializedBytes: bytes).status), error)
        }
    }
}
