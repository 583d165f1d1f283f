import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

final class UserLookupTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make(prefix: "rootfs")
        try FileSystem.createDirectory(root + "/etc")
        try FileSystem.writeAtomically(root + "/etc/passwd", """
            root:x:0:0:root:/root:/bin/sh
            # a comment
            user:x:1000:1000:user:/home/user:/bin/sh
            malformed line
            nobody:x:65534:65534:nobody:/nonexistent:/bin/false
            nohome:x:2000:2000::
            """)
        try FileSystem.writeAtomically(root + "/etc/group", """
            root:x:0:
            users:x:100:user,other
            user:x:1000:
            wheel:x:10:other, user
            nogroup:x:65534:
            """)
    }

    override func tearDown() { try? FileSystem.removeTree(root) }

    func testNamesAndIDs() throws {
        let users = UserLookup(rootfs: root)
        XCTAssertEqual(try users.resolve("user"), ExecUser(uid: 1000, gid: 1000, additionalGids: [100, 10], home: "/home/user"))
        XCTAssertEqual(try users.resolve("1000"), ExecUser(uid: 1000, gid: 1000, additionalGids: [100, 10], home: "/home/user"))
        XCTAssertEqual(try users.resolve("root"), ExecUser(uid: 0, gid: 0, home: "/root"))
        XCTAssertEqual(try users.resolve("nohome"), ExecUser(uid: 2000, gid: 2000, home: "/"))
        XCTAssertEqual(try users.resolve("4242"), ExecUser(uid: 4242, gid: 0, home: "/"), "a uid without an entry")
    }

    func testExplicitGroupsReplaceTheImplicitOnes() throws {
        let users = UserLookup(rootfs: root)
        XCTAssertEqual(try users.resolve("user:users"), ExecUser(uid: 1000, gid: 100, home: "/home/user"))
        XCTAssertEqual(try users.resolve("user:65534"), ExecUser(uid: 1000, gid: 65534, home: "/home/user"))
        XCTAssertEqual(try users.resolve("1000:5555"), ExecUser(uid: 1000, gid: 5555, home: "/home/user"))
        XCTAssertEqual(try users.resolve("4242:4343"), ExecUser(uid: 4242, gid: 4343, home: "/"))
        XCTAssertEqual(try users.groupIDs(["wheel", "77", "nogroup"]), [10, 77, 65534])
    }

    func testUnknownNamesAreErrorsNamingTheFile() {
        let users = UserLookup(rootfs: root)
        for (spec, text) in [("ghost", "unable to find user ghost: no matching entries in /etc/passwd"),
                             ("user:ghosts", "unable to find group ghosts"), ("user:", "group after ':' is empty"),
                             (":100", "user before ':' is empty"), ("99999999999", "unable to find user")] {
            XCTAssertThrowsError(try users.resolve(spec), spec) { error in
                XCTAssertTrue((error as! CoreError).message.contains(text), "\(spec): \(error)")
            }
        }
        XCTAssertThrowsError(try users.groupIDs(["nope"]))
    }

    func testMissingFilesAndLinksOutOfTheRootfs() throws {
        let empty = try TemporaryDirectory.make(prefix: "rootfs-empty")
        defer { try? FileSystem.removeTree(empty) }
        let bare = UserLookup(rootfs: empty)
        XCTAssertEqual(try bare.resolve("0"), ExecUser(uid: 0, gid: 0, home: "/"))
        XCTAssertThrowsError(try bare.resolve("root")) { error in
            XCTAssertTrue((error as! CoreError).message.contains("the container has no /etc/passwd"), "\(error)")
        }
        // Links that would leave the rootfs are resolved inside it.
        try FileSystem.createDirectory(empty + "/etc")
        XCTAssertEqual(symlink("../../../../../../../../../../etc/passwd", empty + "/etc/passwd"), 0)
        XCTAssertNil(ScopedPath.resolve("/etc/passwd", in: empty), "inside the rootfs the link points at itself: a loop")
        XCTAssertThrowsError(try UserLookup(rootfs: empty).resolve("root"), "the host's passwd is not read")
        XCTAssertEqual(symlink("/../../hostfile", empty + "/etc/group"), 0)
        XCTAssertEqual(ScopedPath.resolve("/etc/group", in: empty), empty + "/hostfile")
        XCTAssertEqual(symlink("/etc/loop", empty + "/etc/loop"), 0)
        XCTAssertNil(ScopedPath.resolve("/etc/loop", in: empty))
    }
}

final class ExecSpecBuilderTests: XCTestCase {
    let users = UserLookup(passwd: "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
                           group: "users:x:100:user\nwheel:x:10:\n")

    private func containerProcess() throws -> JSONValue {
        try JSONValue(parsing: """
            {"terminal":true,"consoleSize":{"height":1,"width":2},"user":{"uid":0,"gid":0,"umask":18},
             "args":["sh"],"env":["PATH=/bin","TERM=xterm"],"cwd":"/","capabilities":{"bounding":["CAP_KILL"],
             "effective":["CAP_KILL"],"permitted":["CAP_KILL"]},"noNewPrivileges":true}
            """)
    }

    func testTheContainersProcessWithTheSessionsChanges() throws {
        var options = ExecOptions(execID: "e", args: ["/bin/id", "-u"])
        options.env = ["A=1"]
        options.cwd = "/tmp"
        options.user = "user"
        options.additionalGroups = ["wheel"]
        options.capAdd = ["net_admin", "CAP_KILL"]
        options.terminal = false
        let spec = try ExecSpecBuilder.build(containerProcess: try containerProcess(), options: options, users: users,
                                             containerProcessLabel: "system_u:system_r:container_t:s0")
        XCTAssertEqual(spec["args"]?.stringArray, ["/bin/id", "-u"])
        XCTAssertEqual(spec["terminal"]?.boolValue, false, "not inherited from the container")
        XCTAssertNil(spec["consoleSize"])
        XCTAssertEqual(spec["env"]?.stringArray, ["PATH=/bin", "TERM=xterm", "A=1", "HOME=/home/user"])
        XCTAssertEqual(spec["cwd"]?.stringValue, "/tmp")
        XCTAssertEqual(spec["user"]?["uid"]?.intValue, 1000)
        XCTAssertEqual(spec["user"]?["gid"]?.intValue, 1000)
        XCTAssertEqual(spec["user"]?["umask"]?.intValue, 18, "the rest of the user is kept")
        XCTAssertEqual(spec["user"]?["additionalGids"]?.arrayValue?.compactMap(\.intValue), [100, 10])
        XCTAssertEqual(spec["capabilities"]?["bounding"]?.stringArray, ["CAP_KILL", "CAP_NET_ADMIN"])
        XCTAssertEqual(spec["capabilities"]?["effective"]?.stringArray, ["CAP_KILL", "CAP_NET_ADMIN"])
        XCTAssertEqual(spec["selinuxLabel"]?.stringValue, "system_u:system_r:container_t:s0")
        XCTAssertEqual(spec["noNewPrivileges"]?.boolValue, true)
    }

    func testHomeIsKeptWhenSetAndTheContainersUserByDefault() throws {
        var options = ExecOptions(execID: "e", args: ["sh"])
        options.env = ["HOME=/custom"]
        options.terminal = true
        options.processLabel = "mine"
        let spec = try ExecSpecBuilder.build(containerProcess: try containerProcess(), options: options, users: users,
                                             containerProcessLabel: "theirs")
        XCTAssertEqual(spec["env"]?.stringArray, ["PATH=/bin", "TERM=xterm", "HOME=/custom"])
        XCTAssertEqual(spec["user"]?["uid"]?.intValue, 0)
        XCTAssertEqual(spec["terminal"]?.boolValue, true)
        XCTAssertEqual(spec["selinuxLabel"]?.stringValue, "mine")
        let plain = try ExecSpecBuilder.build(containerProcess: try containerProcess(), options: ExecOptions(execID: "e", args: ["sh"]), users: users)
        XCTAssertEqual(plain["env"]?.stringArray.last, "HOME=/root", "HOME of the container's uid")
        let bare = try ExecSpecBuilder.build(containerProcess: nil, options: ExecOptions(execID: "e", args: ["sh"]), users: users)
        XCTAssertEqual(bare["cwd"]?.stringValue, "/")
        XCTAssertEqual(bare["user"]?["uid"]?.intValue, 0)
    }

    func testBadInputIsInvalidArgument() throws {
        let process = try containerProcess()
        var cases: [ExecOptions] = [ExecOptions(execID: "e", args: [])]
        var env = ExecOptions(execID: "e", args: ["sh"]); env.env = ["=x"]; cases.append(env)
        var cwd = ExecOptions(execID: "e", args: ["sh"]); cwd.cwd = "tmp"; cases.append(cwd)
        var cap = ExecOptions(execID: "e", args: ["sh"]); cap.capAdd = ["CAP_"]; cases.append(cap)
        var user = ExecOptions(execID: "e", args: ["sh"]); user.user = "ghost"; cases.append(user)
        var group = ExecOptions(execID: "e", args: ["sh"]); group.additionalGroups = ["ghosts"]; cases.append(group)
        for options in cases {
            XCTAssertThrowsError(try ExecSpecBuilder.build(containerProcess: process, options: options, users: users)) { error in
                XCTAssertEqual((error as! CoreError).kind, .invalidArgument)
            }
        }
        XCTAssertEqual(try ExecSpecBuilder.capabilityName("sys_admin"), "CAP_SYS_ADMIN")
    }
}
