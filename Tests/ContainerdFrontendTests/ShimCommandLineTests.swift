import XCTest
@testable import ContainerdFrontend

/// The shim binary's command line as containerd writes it
/// (runtime/v2/shim/util.go Command, binary.go Start and Delete), parsed as
/// Go's flag package parses it.
final class ShimCommandLineTests: XCTestCase {
    func testStartAsContainerdInvokesIt() throws {
        let line = try ShimCommandLine.parse(["-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock",
                                              "-publish-binary", "/usr/bin/containerd", "-id", "abc", "-debug", "start"])
        XCTAssertEqual(line.namespace, "k8s.io")
        XCTAssertEqual(line.address, "/run/containerd/containerd.sock")
        XCTAssertEqual(line.publishBinary, "/usr/bin/containerd")
        XCTAssertEqual(line.id, "abc")
        XCTAssertTrue(line.debug)
        XCTAssertEqual(line.action, .start)
    }

    func testDeleteWithBundleAndGoFlagSpellings() throws {
        let line = try ShimCommandLine.parse(["--namespace=default", "-address=/a.sock", "-id", "c1", "-bundle", "/b/c1", "delete"])
        XCTAssertEqual(line.namespace, "default")
        XCTAssertEqual(line.address, "/a.sock")
        XCTAssertEqual(line.bundle, "/b/c1")
        XCTAssertEqual(line.action, .delete)
        XCTAssertFalse(line.debug)
    }

    func testNoActionServesAndFlagsEndAtTheFirstArgument() throws {
        let line = try ShimCommandLine.parse(["-namespace", "n", "-id", "c1", "-debug=false"])
        XCTAssertEqual(line.action, .serve)
        XCTAssertEqual(line.serveArguments, ["-namespace", "n", "-id", "c1", "-address", ""])
        // As with Go's flag package: what follows the action is not parsed.
        let late = try ShimCommandLine.parse(["start", "-id", "x"])
        XCTAssertEqual(late.action, .start)
        XCTAssertEqual(late.id, "")
    }

    func testBadFlagsAreUsageErrors() {
        XCTAssertThrowsError(try ShimCommandLine.parse(["-nope", "start"])) { error in
            XCTAssertEqual("\(error)", "flag provided but not defined: -nope")
        }
        XCTAssertThrowsError(try ShimCommandLine.parse(["-id"])) { error in
            XCTAssertEqual("\(error)", "flag needs an argument: -id")
        }
        XCTAssertThrowsError(try ShimCommandLine.parse(["-debug=maybe"]))
        XCTAssertThrowsError(try ShimCommandLine.parse(["-id", "x", "serve"]), "serve is not an action containerd names")
    }
}
