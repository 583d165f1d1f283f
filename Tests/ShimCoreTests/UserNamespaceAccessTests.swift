import Glibc
import XCTest
@testable import ShimCore
import ShimSystem

final class UserNamespaceAccessTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try TemporaryDirectory.make(prefix: "userns")
    }

    override func tearDown() {
        try? FileSystem.removeTree(dir)
    }

    private func mode(_ path: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0, path)
        return st.st_mode & 0o7777
    }

    private func makeDirectory(_ path: String, mode: mode_t, owner: (uid_t, gid_t)? = nil) {
        XCTAssertEqual(mkdir(path, 0o700), 0, path)
        if let owner { XCTAssertEqual(chown(path, owner.0, owner.1), 0, path) }
        XCTAssertEqual(chmod(path, mode), 0, path)
    }

    // MARK: hasCurrentUserMapped

    func testNoMappingsMeansMapped() {
        XCTAssertTrue(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: [], gidMappings: [], euid: 1000))
    }

    func testTheEuidMustFallInAUidMappingsHostRange() {
        let uids = [IDMap(containerID: 0, hostID: 100000, size: 65536), IDMap(containerID: 65536, hostID: 1000, size: 1)]
        let gids = [IDMap(containerID: 0, hostID: 100000, size: 65536)]
        XCTAssertTrue(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: gids, euid: 100000))
        XCTAssertTrue(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: gids, euid: 165535))
        XCTAssertFalse(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: gids, euid: 165536), "the end is exclusive")
        XCTAssertTrue(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: gids, euid: 1000))
        XCTAssertFalse(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: gids, euid: 0))
        XCTAssertFalse(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: gids, euid: 1001))
    }

    func testOnlyGidMappingsMapNoUser() {
        // As in podman: with mappings present, only the uid maps decide.
        let gids = [IDMap(containerID: 0, hostID: 0, size: 65536)]
        XCTAssertFalse(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: [], gidMappings: gids, euid: 0))
    }

    func testRangesNearTheTopDoNotOverflow() {
        let uids = [IDMap(containerID: 0, hostID: UInt32.max - 10, size: 100)]
        XCTAssertTrue(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: [], euid: UInt32.max - 1))
        XCTAssertFalse(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: uids, gidMappings: [], euid: 5))
    }

    func testTheCurrentEuidIsTheDefault() {
        let me = geteuid()
        XCTAssertTrue(UserNamespaceAccess.hasCurrentUserMapped(uidMappings: [IDMap(containerID: 0, hostID: me, size: 1)], gidMappings: []))
    }

    // MARK: rootIDs

    func testRootIDsAreTheHostIDsOfContainerIDZero() {
        let uids = [IDMap(containerID: 1, hostID: 200001, size: 999), IDMap(containerID: 0, hostID: 100000, size: 1)]
        let gids = [IDMap(containerID: 0, hostID: 300000, size: 65536)]
        let ids = UserNamespaceAccess.rootIDs(uidMappings: uids, gidMappings: gids)
        XCTAssertEqual(ids.uid, 100000)
        XCTAssertEqual(ids.gid, 300000)
    }

    func testRootIDsAreZeroWithoutAMappingForZero() {
        let ids = UserNamespaceAccess.rootIDs(uidMappings: [], gidMappings: [IDMap(containerID: 1, hostID: 5000, size: 10)])
        XCTAssertEqual(ids.uid, 0)
        XCTAssertEqual(ids.gid, 0)
    }

    // MARK: makeAccessible

    func testEveryDirectoryOnTheWayGetsSearchBitsForEveryone() throws {
        let a = dir + "/a", b = a + "/b", c = b + "/c"
        makeDirectory(a, mode: 0o700)
        makeDirectory(b, mode: 0o750)
        makeDirectory(c, mode: 0o2700) // setgid must survive
        try UserNamespaceAccess.makeAccessible(c, uid: 100000, gid: 100000)
        XCTAssertEqual(mode(a), 0o711)
        XCTAssertEqual(mode(b), 0o751)
        XCTAssertEqual(mode(c), 0o2711)
        XCTAssertEqual(mode(dir) & 0o111, 0o111, "the temporary directory itself is on the way too")
    }

    func testDirectoriesOwnedByTheContainerRootAreLeftAlone() throws {
        try XCTSkipUnless(geteuid() == 0, "giving directories to another uid needs root")
        let a = dir + "/a", owned = a + "/owned", inner = owned + "/inner"
        makeDirectory(a, mode: 0o700)
        makeDirectory(owned, mode: 0o700, owner: (100000, 100000))
        makeDirectory(inner, mode: 0o700, owner: (100000, 100001))
        try UserNamespaceAccess.makeAccessible(inner, uid: 100000, gid: 100000)
        XCTAssertEqual(mode(owned), 0o700, "owned by uid:gid: its owner needs no help")
        XCTAssertEqual(mode(inner), 0o711, "the uid alone is not enough: the gid differs")
        XCTAssertEqual(mode(a), 0o711)
    }

    func testAlreadyAccessibleDirectoriesAreNotTouched() throws {
        let a = dir + "/a"
        makeDirectory(a, mode: 0o1777)
        try UserNamespaceAccess.makeAccessible(a, uid: 100000, gid: 100000)
        XCTAssertEqual(mode(a), 0o1777)
    }

    func testAMissingPathIsFine() throws {
        let a = dir + "/a"
        makeDirectory(a, mode: 0o700)
        XCTAssertNoThrow(try UserNamespaceAccess.makeAccessible(a + "/missing/deeper", uid: 100000, gid: 100000))
        // As in podman, the walk stops at the first missing component.
        XCTAssertEqual(mode(a), 0o700)
        XCTAssertNoThrow(try UserNamespaceAccess.makeAccessible("", uid: 100000, gid: 100000))
    }

    func testPathsAreNormalizedBeforeTheWalk() throws {
        let a = dir + "/a", b = a + "/b"
        makeDirectory(a, mode: 0o700)
        makeDirectory(b, mode: 0o700)
        try UserNamespaceAccess.makeAccessible(dir + "//a/./b/", uid: 100000, gid: 100000)
        XCTAssertEqual(mode(a), 0o711)
        XCTAssertEqual(mode(b), 0o711)
        XCTAssertEqual(UserNamespaceAccess.normalized("/x//y/./z/"), "/x/y/z")
        XCTAssertEqual(UserNamespaceAccess.parent(of: "/x"), "/")
        XCTAssertEqual(UserNamespaceAccess.parent(of: "/x/y"), "/x")
    }

    func testAFileAtTheEndGetsExecuteBitsLikeTheSeed() throws {
        // podman chmods whatever the path is; run dirs only hold
        // directories, but a file there must not stop the walk.
        let a = dir + "/a"
        makeDirectory(a, mode: 0o700)
        let file = a + "/file"
        try FileSystem.writeAtomically(file, "x", mode: 0o600)
        try UserNamespaceAccess.makeAccessible(file, uid: 100000, gid: 100000)
        XCTAssertEqual(mode(file), 0o711)
        XCTAssertEqual(mode(a), 0o711)
    }
}
