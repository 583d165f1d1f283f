import ContainerdProtocol
import ShimSystem
import SwiftProtobuf
import XCTest
@testable import ContainerdFrontend

/// The runtime options as containerd sends them: runc's (ctr, a runtime
/// class moved from runc.v2), CRI's generic ones, none.
final class RuncOptionsTests: XCTestCase {
    func testRuncOptionsAreTakenAsTheyAre() throws {
        var runc = Containerd_Runc_V1_Options()
        runc.binaryName = "crun"
        runc.systemdCgroup = true
        runc.shimCgroup = "/shims"
        let any = try TypeURL.pack(runc)
        XCTAssertEqual(any.typeURL, "containerd.runc.v1.Options")
        XCTAssertEqual(try RuncOptions.decode(any), runc)
        // At `start`, on stdin, as a serialized Any.
        let bytes: [UInt8] = try any.serializedBytes()
        XCTAssertEqual(try RuncOptions.decode(startInput: bytes)?.shimCgroup, "/shims")
        XCTAssertNil(try RuncOptions.decode(startInput: []))
    }

    func testCRIsGenericOptionsWithoutAConfigFileAreNone() throws {
        XCTAssertNil(try RuncOptions.decode(Google_Protobuf_Any()))
        XCTAssertNil(try RuncOptions.decode(try TypeURL.pack(Runtimeoptions_V1_Options())))
        var withFile = Runtimeoptions_V1_Options()
        withFile.configPath = "/etc/ocishim.toml"
        XCTAssertThrowsError(try RuncOptions.decode(try TypeURL.pack(withFile))) { error in
            XCTAssertTrue("\(error)".contains("/etc/ocishim.toml"), "\(error)")
        }
    }

    func testOtherOptionsAreRefusedByName() throws {
        var any = Google_Protobuf_Any()
        any.typeURL = "io.containerd.runhcs.v1.Options"
        XCTAssertThrowsError(try RuncOptions.decode(any)) { error in
            XCTAssertTrue("\(error)".contains("io.containerd.runhcs.v1.Options"), "\(error)")
        }
        any.typeURL = TypeURL.runcOptions
        any.value = .init([0xff, 0xff])
        XCTAssertThrowsError(try RuncOptions.decode(any))
    }
}

/// Which containers get the processes their init left killed with it.
final class SharedPidNamespaceTests: XCTestCase {
    private func bundle(_ namespaces: String) throws -> String {
        let dir = try TemporaryDirectory.make(prefix: "pidns")
        try FileSystem.writeAtomically(dir + "/config.json", #"{"linux":{"namespaces":\#(namespaces)}}"#)
        return dir
    }

    func testOnlyAContainerWithItsOwnPidNamespaceIsLeftToTheKernel() throws {
        let own = try bundle(#"[{"type":"mount"},{"type":"pid"}]"#)
        let joined = try bundle(#"[{"type":"mount"},{"type":"pid","path":"/proc/1/ns/pid"}]"#)
        let none = try bundle(#"[{"type":"mount"}]"#)
        defer { for dir in [own, joined, none] { try? FileSystem.removeTree(dir) } }
        XCTAssertFalse(TaskHandlers.sharesPidNamespace(bundle: own))
        XCTAssertTrue(TaskHandlers.sharesPidNamespace(bundle: joined))
        XCTAssertTrue(TaskHandlers.sharesPidNamespace(bundle: none))
        XCTAssertTrue(TaskHandlers.sharesPidNamespace(bundle: "/nonexistent"), "unreadable: kill, as runc.v2 does")
    }
}

/// The runtime options' shim_cgroup, joined at `start`.
final class ShimCgroupTests: XCTestCase {
    func testTheShimJoinsThePathInEveryV1HierarchyThatHasIt() throws {
        let root = try TemporaryDirectory.make(prefix: "shimcg")
        defer { try? FileSystem.removeTree(root) }
        for hierarchy in ["cpu", "memory"] {
            try FileSystem.createDirectory(root + "/\(hierarchy)/shims", mode: 0o755)
            try FileSystem.writeAtomically(root + "/\(hierarchy)/shims/cgroup.procs", "")
        }
        try FileSystem.createDirectory(root + "/pids", mode: 0o755)  // no such cgroup there: left alone
        try ShimCgroup.place(pid: 4242, cgroup: "/shims", root: root)
        XCTAssertEqual(try FileSystem.readString(root + "/cpu/shims/cgroup.procs"), "4242")
        XCTAssertEqual(try FileSystem.readString(root + "/memory/shims/cgroup.procs"), "4242")
        XCTAssertFalse(FileSystem.exists(root + "/pids/shims"))
        XCTAssertThrowsError(try ShimCgroup.place(pid: 4242, cgroup: "/nowhere", root: root)) { error in
            XCTAssertTrue("\(error)".contains("/nowhere"), "\(error)")
        }
    }

    func testCgroupV2HasOneTree() throws {
        let root = try TemporaryDirectory.make(prefix: "shimcg2")
        defer { try? FileSystem.removeTree(root) }
        try FileSystem.writeAtomically(root + "/cgroup.controllers", "cpu memory pids\n")
        try FileSystem.createDirectory(root + "/shims", mode: 0o755)
        try FileSystem.writeAtomically(root + "/shims/cgroup.procs", "")
        try ShimCgroup.place(pid: 77, cgroup: "shims", root: root)
        XCTAssertEqual(try FileSystem.readString(root + "/shims/cgroup.procs"), "77")
    }
}
