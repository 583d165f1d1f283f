import ShimProtocol
import XCTest

/// Every rpc of the shim's catalogue has a handler: Hello lists the
/// methods the shim serves, and it lists them all. A catalogued method
/// without one would be answered as unknown (RPCRouter).
final class EveryMethodServedTests: XCTestCase {
    func testHelloListsEveryMethodOfTheCatalogue() throws {
        let shim = try ShimHarness(self, name: "methods")
        let hello: Ocishim_V1_HelloResponse = try shim.call("Hello", Ocishim_V1_HelloRequest())
        XCTAssertEqual(hello.methods, ShimService.methods.map(\.name))
    }
}
