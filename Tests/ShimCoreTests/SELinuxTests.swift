import Glibc
import XCTest
@testable import ShimCore
import ShimSystem

final class SELinuxTests: XCTestCase {
    // MARK: contexts as strings

    func testAContextWithoutLevelHasThreeFields() throws {
        let context = try SELinuxContext(parsing: "system_u:system_r:container_runtime_t")
        XCTAssertEqual(context, SELinuxContext(user: "system_u", role: "system_r", type: "container_runtime_t"))
        XCTAssertEqual(context.level, "")
        XCTAssertEqual(context.string, "system_u:system_r:container_runtime_t")
    }

    func testTheLevelKeepsItsCategories() throws {
        let context = try SELinuxContext(parsing: "system_u:system_r:container_t:s0:c1,c2")
        XCTAssertEqual(context.user, "system_u")
        XCTAssertEqual(context.role, "system_r")
        XCTAssertEqual(context.type, "container_t")
        XCTAssertEqual(context.level, "s0:c1,c2")
        XCTAssertEqual(context.string, "system_u:system_r:container_t:s0:c1,c2")
    }

    func testALevelRangeWithCategoriesRoundTrips() throws {
        let label = "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"
        let context = try SELinuxContext(parsing: label)
        XCTAssertEqual(context.type, "unconfined_t")
        XCTAssertEqual(context.level, "s0-s0:c0.c1023")
        XCTAssertEqual(context.string, label)
        XCTAssertEqual("\(context)", label)
    }

    func testWithLevelReplacesOnlyTheLevel() throws {
        let context = try SELinuxContext(parsing: "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023")
        let lowered = context.withLevel("s0")
        XCTAssertEqual(lowered.string, "unconfined_u:unconfined_r:unconfined_t:s0")
        XCTAssertEqual(context.level, "s0-s0:c0.c1023", "withLevel returns a copy")
        XCTAssertEqual(try SELinuxContext(parsing: "u:r:t").withLevel("s0:c5").string, "u:r:t:s0:c5")
        XCTAssertEqual(try SELinuxContext(parsing: "u:r:t:s0").withLevel("").string, "u:r:t")
    }

    func testTooFewFieldsIsAClearError() {
        for label in ["", "system_u", "system_u:system_r"] {
            XCTAssertThrowsError(try SELinuxContext(parsing: label), label) { error in
                let error = error as! CoreError
                XCTAssertEqual(error.kind, .invalidArgument)
                XCTAssertTrue(error.message.contains("want user:role:type[:level]"), error.message)
                XCTAssertTrue(error.message.contains("\"\(label)\""), error.message)
            }
        }
        XCTAssertThrowsError(try SELinuxContext(parsing: "system_u:system_r")) { error in
            XCTAssertTrue((error as! CoreError).message.contains("found 2 fields"), "\(error)")
        }
    }

    func testEmptyFieldsAreRejected() {
        for (label, what) in [("::t", "user"), ("u::t", "role"), ("u:r:", "type"), ("u:r:t:", "level")] {
            XCTAssertThrowsError(try SELinuxContext(parsing: label), label) { error in
                XCTAssertTrue((error as! CoreError).message.contains(what), "\(label): \(error)")
            }
        }
    }

    // MARK: the runtime's exec label (startCommandGivenSelinux)

    func testTheExecLabelDropsCategoriesToS0() throws {
        XCTAssertEqual(try SELinux.execLabel(forCurrent: "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"),
                       "unconfined_u:unconfined_r:unconfined_t:s0")
        XCTAssertEqual(try SELinux.execLabel(forCurrent: "system_u:system_r:container_runtime_t:s0:c1,c2"),
                       "system_u:system_r:container_runtime_t:s0")
        XCTAssertEqual(try SELinux.execLabel(forCurrent: "system_u:system_r:container_runtime_t:s1"),
                       "system_u:system_r:container_runtime_t:s0")
    }

    func testNoExecLabelWhenTheLevelIsAlreadyS0OrAbsent() throws {
        XCTAssertNil(try SELinux.execLabel(forCurrent: "system_u:system_r:container_runtime_t:s0"))
        XCTAssertNil(try SELinux.execLabel(forCurrent: "system_u:system_r:container_runtime_t"))
    }

    func testAnUnparsableCurrentLabelIsAnError() {
        XCTAssertThrowsError(try SELinux.execLabel(forCurrent: "kernel")) { error in
            XCTAssertTrue((error as! CoreError).message.contains("cannot derive the runtime's SELinux label"), "\(error)")
        }
    }

    // MARK: this machine (SELinux off)

    func testLibselinuxLoadsAtRunTime() throws {
        let library = SELinuxLibrary.open()
        print("dlopen(\(SELinuxLibrary.soname)): \(library == nil ? "failed: \(String(cString: dlerror()))" : "succeeded")")
        guard let library else {
            throw XCTSkip("libselinux1 is not installed; SELinux counts as disabled")
        }
        let enabled = library.isSELinuxEnabled()
        print("is_selinux_enabled() = \(enabled); kernel has selinuxfs: \(SELinuxLibrary.kernelMayHaveSELinux())")
        if !SELinuxLibrary.kernelMayHaveSELinux() {
            XCTAssertLessThanOrEqual(enabled, 0, "a kernel without selinuxfs cannot have SELinux enabled")
        }
    }

    func testAMissingLibraryMeansNoLibrary() {
        XCTAssertNil(SELinuxLibrary.open("libselinux-does-not-exist.so.1"))
    }

    func testOnThisMachineSELinuxIsOffAndEverythingIsANoOp() throws {
        let selinuxfs = SELinuxLibrary.kernelMayHaveSELinux()
        print("SELinux.isEnabled = \(SELinux.isEnabled), kernel has selinuxfs: \(selinuxfs)")
        if selinuxfs && SELinux.isEnabled {
            throw XCTSkip("SELinux is enabled on this host")
        }
        XCTAssertFalse(SELinux.isEnabled)
        XCTAssertNil(try SELinux.currentLabel())
        XCTAssertNil(try SELinux.runtimeExecLabel())
        XCTAssertNil(SELinux.setExecCon, "the spawner must not call setexeccon when SELinux is off")
        XCTAssertNoThrow(try SELinux.setSocketCreateLabel("system_u:system_r:container_t:s0:c1,c2"))
        XCTAssertNoThrow(try SELinux.setSocketCreateLabel(nil))
        XCTAssertNoThrow(try SELinux.setSocketCreateLabel(""))
    }

    func testKernelSupportIsReadFromTheFilesystemList() throws {
        let dir = try TemporaryDirectory.make(prefix: "selinux")
        defer { try? FileSystem.removeTree(dir) }
        let without = dir + "/without"
        let with = dir + "/with"
        try FileSystem.writeAtomically(without, "nodev\tsysfs\nnodev\tproc\n\text4\n")
        try FileSystem.writeAtomically(with, "nodev\tsysfs\nnodev\tselinuxfs\n\text4\n")
        XCTAssertFalse(SELinuxLibrary.kernelMayHaveSELinux(filesystems: without))
        XCTAssertTrue(SELinuxLibrary.kernelMayHaveSELinux(filesystems: with))
        XCTAssertTrue(SELinuxLibrary.kernelMayHaveSELinux(filesystems: dir + "/missing"), "unknown: let libselinux decide")
    }
}
