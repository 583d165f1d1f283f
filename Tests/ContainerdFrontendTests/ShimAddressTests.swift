import XCTest
import ShimSystem
@testable import ContainerdFrontend

/// The socket address, as containerd's shims derive it
/// (runtime/v2/shim/util_unix.go SocketAddress: sha256 of
/// filepath.Join(address, namespace, id) under /run/containerd/s).
final class ShimAddressTests: XCTestCase {
    func testSHA256KnownAnswers() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Two blocks of padding.
        XCTAssertEqual(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(String(repeating: "a", count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func testTheAddressHashesTheCleanedJoinOfAddressNamespaceAndID() {
        // containerd 1.6's runc shim for containerd at /run/containerd/containerd.sock,
        // namespace "default", id "x": sha256("/run/containerd/containerd.sock/default/x").
        XCTAssertEqual(ShimAddress.make(containerdAddress: "/run/containerd/containerd.sock", namespace: "default", id: "x"),
                       "unix:///run/containerd/s/" + SHA256.hex("/run/containerd/containerd.sock/default/x"))
        XCTAssertEqual(ShimAddress.make(containerdAddress: "/a//b/", namespace: "n", id: "i"),
                       ShimAddress.make(containerdAddress: "/a/b", namespace: "n", id: "i"))
        XCTAssertEqual(ShimAddress.path(of: "unix:///run/containerd/s/ab"), "/run/containerd/s/ab")
        XCTAssertNil(ShimAddress.path(of: "/abstract"))
    }

    func testCleanPathAsGo() {
        XCTAssertEqual(ShimAddress.cleanPath("/a/./b/../c//d/"), "/a/c/d")
        XCTAssertEqual(ShimAddress.cleanPath("/../a"), "/a")
        XCTAssertEqual(ShimAddress.cleanPath("a/../../b"), "../b")
        XCTAssertEqual(ShimAddress.cleanPath(""), ".")
    }
}

/// Which shim a container goes to: its group's, named by annotation.
final class ShimGroupingTests: XCTestCase {
    func testAGroupAnnotationNamesTheShimElseTheContainerDoes() throws {
        let dir = try TemporaryDirectory.make(prefix: "grouping")
        defer { try? FileSystem.removeTree(dir) }
        let config = dir + "/config.json"
        try FileSystem.writeAtomically(config, #"{"annotations":{"io.kubernetes.cri.sandbox-id":"pod-1","x":"y"}}"#)
        XCTAssertEqual(ShimStart.grouping(id: "app", configPath: config), "pod-1")
        try FileSystem.writeAtomically(config, #"{"annotations":{"io.kubernetes.cri.sandbox-id":"pod-1","io.containerd.ocishim.v1.group":"g"}}"#)
        XCTAssertEqual(ShimStart.grouping(id: "app", configPath: config), "g", "this runtime's own group first")
        try FileSystem.writeAtomically(config, #"{"annotations":{}}"#)
        XCTAssertEqual(ShimStart.grouping(id: "app", configPath: config), "app")
        XCTAssertEqual(ShimStart.grouping(id: "app", configPath: dir + "/none.json"), "app")
    }
}
