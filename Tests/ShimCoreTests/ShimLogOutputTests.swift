import Foundation
import XCTest
@testable import ShimCore

/// The shim's own log file (`<state-dir>/shim.log`): bounded, newest kept.
final class ShimLogOutputTests: XCTestCase {
    func testAChattyShimKeepsAtMostTwoFilesOfTheLimitWithTheNewestMessages() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shimlog-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/shim.log"
        let limit = 8192
        let output = ShimLogOutput()
        try output.useFile(path, limit: limit)
        for n in 0..<5000 { output.write("message \(n): something the shim had to say\n") }

        let sizes = try [path, path + ".1"].map { try XCTUnwrap(FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) }
        XCTAssertTrue(sizes.allSatisfy { $0 <= limit }, "\(sizes)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["shim.log", "shim.log.1"])
        let newest = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(newest.hasSuffix("message 4999: something the shim had to say\n"), String(newest.suffix(80)))
        XCTAssertTrue(try String(contentsOfFile: path + ".1", encoding: .utf8).hasPrefix("message "), "whole lines only")

        output.discard()
        output.write("dropped\n")
        XCTAssertFalse(try String(contentsOfFile: path, encoding: .utf8).contains("dropped"))
    }
}
