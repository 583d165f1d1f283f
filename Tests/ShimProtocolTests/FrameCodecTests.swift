import XCTest
@testable import ShimProtocol

/// Byte vectors written by hand from containerd/ttrpc PROTOCOL.md: a 10-byte
/// header (uint32 BE length, uint32 BE stream id, uint8 type, uint8 flags).
final class FrameCodecTests: XCTestCase {
    func testHeaderEncodingMatchesTheSpecification() {
        // length 5, stream 1, request, no flags.
        let frame = Frame(streamID: 1, type: .request, payload: [0x0a, 0x03, 0x61, 0x62, 0x63])
        XCTAssertEqual(frame.encoded(), [
            0x00, 0x00, 0x00, 0x05,
            0x00, 0x00, 0x00, 0x01,
            0x01,
            0x00,
            0x0a, 0x03, 0x61, 0x62, 0x63,
        ])
    }

    func testDataFrameWithRemoteClosedAndNoData() {
        let frame = Frame(streamID: 0x0102_0305, type: .data, flags: [.remoteClosed, .noData])
        XCTAssertEqual(frame.encoded(), [0, 0, 0, 0, 0x01, 0x02, 0x03, 0x05, 0x03, 0x05])
    }

    /// The header a server writes in place (gathered with the payload) is
    /// the one `encoded()` starts with.
    func testHeaderEncodedInPlaceIsTheSameBytes() {
        let frame = Frame(streamID: 0x0102_0305, rawType: 0x7f, flags: [.remoteClosed, .noData],
                          payload: [UInt8](repeating: 1, count: 0x01_0203))
        var inPlace = [UInt8](repeating: 0xAA, count: FrameHeader.size)
        inPlace.withUnsafeMutableBytes { frame.header.encode(to: $0) }
        XCTAssertEqual(inPlace, Array(frame.encoded().prefix(FrameHeader.size)))
        XCTAssertEqual(inPlace, [0x00, 0x01, 0x02, 0x03, 0x01, 0x02, 0x03, 0x05, 0x7f, 0x05])
    }

    func testHeaderDecodesBigEndianFields() {
        let header = FrameHeader(decoding: [0x00, 0x40, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfd, 0x02, 0x00])
        XCTAssertEqual(header.length, 4 << 20)
        XCTAssertEqual(header.streamID, 0xffff_fffd)
        XCTAssertEqual(header.type, .response)
        XCTAssertEqual(header.flags, [])
    }

    func testUnknownTypeIsKeptRaw() {
        let header = FrameHeader(decoding: [0, 0, 0, 0, 0, 0, 0, 7, 0x09, 0x80])
        XCTAssertNil(header.type)
        XCTAssertEqual(header.rawType, 9)
        XCTAssertEqual(header.flags.rawValue, 0x80)
    }

    func testFlagValuesAreTheSpecifications() {
        XCTAssertEqual(FrameFlags.remoteClosed.rawValue, 0x01)
        XCTAssertEqual(FrameFlags.remoteOpen.rawValue, 0x02)
        XCTAssertEqual(FrameFlags.noData.rawValue, 0x04)
        XCTAssertEqual(FrameType.request.rawValue, 1)
        XCTAssertEqual(FrameType.response.rawValue, 2)
        XCTAssertEqual(FrameType.data.rawValue, 3)
        XCTAssertEqual(FrameHeader.maxDataLength, 4_194_304)
    }

    func testDecoderReassemblesFramesSplitAtEveryByte() {
        let a = Frame(streamID: 1, type: .request, payload: Array(repeating: 0xaa, count: 300))
        let b = Frame(streamID: 3, type: .data, flags: .remoteClosed, payload: [1, 2, 3])
        let wire = a.encoded() + b.encoded()
        var decoder = FrameDecoder()
        var got: [Frame] = []
        for byte in wire {
            for case .frame(let f) in decoder.feed([byte]) { got.append(f) }
        }
        XCTAssertEqual(got, [a, b])
        XCTAssertEqual(decoder.pendingBytes, 0)
    }

    func testDecoderReportsAPartialFrameAsPending() {
        var decoder = FrameDecoder()
        XCTAssertEqual(decoder.feed([0, 0, 0, 9, 0, 0]), [])
        XCTAssertEqual(decoder.pendingBytes, 6, "a truncated header stays pending; at EOF that is an error")
        XCTAssertEqual(decoder.feed([0, 1, 1, 0, 0xde]), [])
        XCTAssertEqual(decoder.pendingBytes, 11)
    }

    func testOversizedFrameIsSkippedAndTheStreamGoesOn() {
        var decoder = FrameDecoder(maxDataLength: 8)
        let big: [UInt8] = [0, 0, 0, 20, 0, 0, 0, 5, 1, 0] + Array(repeating: 0x55, count: 20)
        let next = Frame(streamID: 7, type: .request, payload: [9])
        // Deliver the oversized data in pieces to exercise the skip state.
        var events = decoder.feed(big[0..<15])
        XCTAssertEqual(events, [.oversized(streamID: 5, length: 20)])
        events = decoder.feed(big[15...])
        XCTAssertEqual(events, [])
        events = decoder.feed(next.encoded())
        XCTAssertEqual(events, [.frame(next)])
        XCTAssertEqual(decoder.pendingBytes, 0)
    }

    func testOversizedFrameCompletelyInOneRead() {
        var decoder = FrameDecoder(maxDataLength: 2)
        let wire: [UInt8] = [0, 0, 0, 3, 0, 0, 0, 1, 1, 0, 7, 7, 7] + Frame(streamID: 3, type: .request).encoded()
        XCTAssertEqual(decoder.feed(wire), [.oversized(streamID: 1, length: 3), .frame(Frame(streamID: 3, type: .request))])
    }

    func testFourMiBIsAllowedAndOneMoreByteIsNot() {
        var decoder = FrameDecoder()
        let header4M: [UInt8] = [0x00, 0x40, 0x00, 0x00, 0, 0, 0, 1, 1, 0]
        XCTAssertEqual(decoder.feed(header4M), [])
        XCTAssertEqual(decoder.pendingBytes, 10)
        var over = FrameDecoder()
        XCTAssertEqual(over.feed([0x00, 0x40, 0x00, 0x01, 0, 0, 0, 1, 1, 0]), [.oversized(streamID: 1, length: 4_194_305)])
    }

    func testRequestEnvelopeIsTtrpcWireCompatible() throws {
        // ttrpc.Request{service="s", method="m", payload=[0x08,0x01], timeout_nano=5}
        // encoded by hand: field 1 (0x0a) len 1 's', field 2 (0x12) len 1 'm',
        // field 3 (0x1a) len 2, field 4 varint (0x20) 5.
        let bytes: [UInt8] = [0x0a, 0x01, 0x73, 0x12, 0x01, 0x6d, 0x1a, 0x02, 0x08, 0x01, 0x20, 0x05]
        let request = try Ttrpc_Request(serializedBytes: bytes)
        XCTAssertEqual(request.service, "s")
        XCTAssertEqual(request.method, "m")
        XCTAssertEqual([UInt8](request.payload), [0x08, 0x01])
        XCTAssertEqual(request.timeoutNano, 5)
        XCTAssertEqual(try request.serializedBytes() as [UInt8], bytes)
    }

    func testResponseStatusIsGoogleRpcStatus() throws {
        // Response{status{code=3, message="x"}}: field 1 len 5 {08 03 12 01 78}.
        let bytes: [UInt8] = [0x0a, 0x05, 0x08, 0x03, 0x12, 0x01, 0x78]
        let response = try Ttrpc_Response(serializedBytes: bytes)
        XCTAssertEqual(RPCError(status: response.status), RPCError(.invalidArgument, "x"))
        XCTAssertNil(RPCError(status: Google_Rpc_Status()), "code 0 is OK")
    }

    func testCodeNamesRoundTrip() {
        for code in RPCCode.allCases { XCTAssertEqual(RPCCode(name: code.name), code) }
        XCTAssertEqual(RPCCode.resourceExhausted.rawValue, 8)
        XCTAssertEqual(RPCCode.unimplemented.rawValue, 12)
        XCTAssertEqual(RPCCode.failedPrecondition.name, "FAILED_PRECONDITION")
    }

    func testMethodCatalogueMatchesStreamingKinds() {
        XCTAssertEqual(ShimService.method(named: "Events")?.kind, .serverStream)
        XCTAssertEqual(ShimService.method(named: "Attach")?.kind, .bidirectional)
        XCTAssertEqual(ShimService.method(named: "Hello")?.requestFlags, [])
        XCTAssertEqual(ShimService.method(named: "Events")?.requestFlags, .remoteClosed)
        XCTAssertEqual(ShimService.method(named: "Attach")?.requestFlags, .remoteOpen)
        XCTAssertEqual(Set(ShimService.methods.map(\.name)).count, ShimService.methods.count)
    }
}
