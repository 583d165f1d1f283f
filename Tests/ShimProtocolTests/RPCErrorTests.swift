import ShimProtocol
import SwiftProtobuf
import XCTest

/// The reason of an error travels as a google.rpc.ErrorInfo in the status
/// details, through the wire encoding.
final class RPCErrorTests: XCTestCase {
    private func roundTrip(_ status: Google_Rpc_Status) throws -> RPCError? {
        RPCError(status: try Google_Rpc_Status(serializedBytes: try status.serializedBytes() as [UInt8]))
    }

    func testTheReasonSurvivesTheWire() throws {
        let sent = RPCError(.notFound, "exec: \"x\": not found", reason: RPCReason.commandNotFound)
        XCTAssertEqual(sent.status.details.count, 1)
        XCTAssertEqual(try roundTrip(sent.status), sent)
    }

    func testNoReasonSendsNoDetails() throws {
        let sent = RPCError(.failedPrecondition, "it is stopped")
        XCTAssertTrue(sent.status.details.isEmpty)
        XCTAssertEqual(try roundTrip(sent.status)?.reason, "")
    }

    func testAnotherDomainsReasonIsNotTaken() throws {
        var status = RPCError(.notFound, "x").status
        status.details = [try Google_Protobuf_Any(message: Google_Rpc_ErrorInfo.with {
            $0.reason = RPCReason.commandNotFound
            $0.domain = "example.com"
        })]
        XCTAssertEqual(try roundTrip(status)?.reason, "")
    }
}
