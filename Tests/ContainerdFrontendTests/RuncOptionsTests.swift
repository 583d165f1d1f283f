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
    }

    /// CRI's generic options naming a config file: runc's options read from
    /// it, at Create and at `start` (stdin), as TOML keys of
    /// containerd.runc.v1.Options.
    func testCRIsConfigFileHoldsRuncsOptions() throws {
        let dir = try TemporaryDirectory.make(prefix: "runc-options")
        defer { try? FileSystem.removeTree(dir) }
        let path = dir + "/ocishim.toml"
        try FileSystem.writeAtomically(path, #"""
            # what runtimes.runc.options would give runc.v2
            BinaryName = "crun"          # a comment after a value
            systemdcgroup = true
            "ShimCgroup" = "/shims"
            NoPivotRoot = false
            IoUid = 100_000
            IoGid = 100000
            Root = '/run/crun\literal'
            CriuPath = "/opt/criu\u0041\tx"
            CriuWorkPath = "/var/criu-work"
            CriuImagePath = ""\#r
            NoNewKeyring = true

            """#)
        var cri = Runtimeoptions_V1_Options()
        cri.configPath = path
        let options = try XCTUnwrap(try RuncOptions.decode(try TypeURL.pack(cri)))
        XCTAssertEqual(options.binaryName, "crun")
        XCTAssertTrue(options.systemdCgroup)
        XCTAssertEqual(options.shimCgroup, "/shims")
        XCTAssertFalse(options.noPivotRoot)
        XCTAssertTrue(options.noNewKeyring)
        XCTAssertEqual(options.ioUid, 100_000)
        XCTAssertEqual(options.ioGid, 100_000)
        XCTAssertEqual(options.root, "/run/crun\\literal")
        XCTAssertEqual(options.criuPath, "/opt/criuA\tx")
        XCTAssertEqual(options.criuWorkPath, "/var/criu-work")
        // At `start`: the same file through the Any on stdin.
        let bytes: [UInt8] = try TypeURL.pack(cri).serializedBytes()
        XCTAssertEqual(try RuncOptions.decode(startInput: bytes)?.shimCgroup, "/shims")
        // The file's type, when given, is runc's.
        cri.typeURL = TypeURL.runcOptions
        XCTAssertEqual(try RuncOptions.decode(try TypeURL.pack(cri))?.binaryName, "crun")
        cri.typeURL = "io.containerd.runsc.v1.options"
        XCTAssertThrowsError(try RuncOptions.decode(try TypeURL.pack(cri))) { error in
            XCTAssertTrue("\(error)".contains("io.containerd.runsc.v1.options"), "\(error)")
        }
    }

    func testABadConfigFileIsRefusedWithItsLine() throws {
        let cases: [(String, String)] = [
            ("BinaryName = \"crun\"\nSystemdCgroups = true\n", "line 2: unknown option SystemdCgroups"),
            ("IoUid = -1\n", "line 1: IoUid takes an integer from 0 to 4294967295"),
            ("IoUid = \"1000\"\n", "line 1: IoUid takes an integer"),
            ("SystemdCgroup = \"yes\"\n", "line 1: SystemdCgroup takes true or false"),
            ("BinaryName = crun\n", "line 1: crun is not a TOML string, boolean or decimal integer"),
            ("[options]\nBinaryName = \"crun\"\n", "line 1: tables are not read"),
            ("BinaryName = \"crun\n", "line 1: unterminated string"),
            ("Root = \"/a\"\nroot = \"/b\"\n", "line 2: root is given twice"),
            ("BinaryName \"crun\"\n", "line 1: expected KEY = VALUE"),
            ("BinaryName = \"crun\" extra\n", "line 1: unexpected text after the value of BinaryName"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try RuncOptionsFile.parse(text, path: "/etc/x.toml"), text) { error in
                XCTAssertTrue("\(error)".contains("runtime options file /etc/x.toml, \(expected)"), "\(text): \(error)")
            }
        }
        XCTAssertThrowsError(try RuncOptionsFile.read("/nonexistent/ocishim.toml")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/ocishim.toml"), "\(error)")
        }
        XCTAssertEqual(try RuncOptionsFile.parse("\n# nothing\n   \n", path: "/etc/x.toml"), Containerd_Runc_V1_Options())
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

/// binary:// stdio URIs, read as containerd's runc shim reads them.
final class BinaryLogURITests: XCTestCase {
    func testThePathIsTheProgramAndEachQueryKeyAnArgumentWithItsFirstValue() throws {
        let uri = try BinaryLogURI(parsing: "binary:///usr/local/bin/my%20logger?--dir=/var/log/c&-v&x=1&x=2&sp=a+b%21#frag")
        XCTAssertEqual(uri.path, "/usr/local/bin/my logger")
        XCTAssertEqual(uri.arguments, ["--dir", "/var/log/c", "-v", "", "x", "1", "sp", "a b!"])
        XCTAssertEqual(try BinaryLogURI(parsing: "binary:///bin/logger"), BinaryLogURI(path: "/bin/logger", arguments: []))
        XCTAssertEqual(try BinaryLogURI(parsing: "binary://host/bin/logger").path, "/bin/logger", "the authority is no part of the path")
        XCTAssertEqual(try BinaryLogURI(parsing: "binary:/bin/logger").path, "/bin/logger")
        XCTAssertEqual(try BinaryLogURI(parsing: "binary:logger").path, "", "opaque: no program (the logger then fails to start)")
        // Pairs Go's ParseQuery cannot read are dropped.
        XCTAssertEqual(try BinaryLogURI(parsing: "binary:///l?a=1;b=2&c=%zz&d=4").arguments, ["d", "4"])
        XCTAssertThrowsError(try BinaryLogURI(parsing: "binary:///bad%2"))
    }

    func testTheSchemeIsFoundAsGoFindsIt() {
        XCTAssertEqual(StdioURI.scheme(of: "binary:///x"), "binary")
        XCTAssertEqual(StdioURI.scheme(of: "FILE:///x"), "file")
        XCTAssertNil(StdioURI.scheme(of: "/run/containerd/fifo/1/c-stdout"))
        XCTAssertNil(StdioURI.scheme(of: "/tmp/a:b"), "a path with a colon")
        XCTAssertNil(StdioURI.scheme(of: ""))
    }
}
