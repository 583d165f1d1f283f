import Glibc
import XCTest
@testable import ShimCore
import ShimSystem

final class CgroupPlacementTests: XCTestCase {
    // MARK: reading the mount table

    /// This machine's layout at the time of writing: v1 controllers, a named
    /// systemd hierarchy and an (almost) empty cgroup2 mount.
    let hybridMountInfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd,release_agent=/x
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """

    func testAHybridHostHasV1HierarchiesAndTheUnifiedMount() {
        let layout = CgroupLayout.parse(mountInfo: hybridMountInfo)
        XCTAssertEqual(layout.mode, .hybrid)
        XCTAssertEqual(layout.hierarchies, [
            CgroupHierarchy(mountPoint: "/sys/fs/cgroup/cpu", controllers: ["cpu"], isUnified: false),
            CgroupHierarchy(mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"], isUnified: false),
            CgroupHierarchy(mountPoint: "/sys/fs/cgroup/cpuset", controllers: ["cpuset"], isUnified: false),
            CgroupHierarchy(mountPoint: "/sys/fs/cgroup/pids", controllers: ["pids"], isUnified: false),
            CgroupHierarchy(mountPoint: "/sys/fs/cgroup/systemd", controllers: ["name=systemd"], isUnified: false),
            CgroupHierarchy(mountPoint: "/sys/fs/cgroup/unified", controllers: [], isUnified: true),
        ])
    }

    func testAPureV2Host() {
        let layout = CgroupLayout.parse(mountInfo: """
            24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
            26 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
            """)
        XCTAssertEqual(layout.mode, .unified)
        XCTAssertEqual(layout.hierarchies, [CgroupHierarchy(mountPoint: "/sys/fs/cgroup", controllers: [], isUnified: true)])
    }

    func testCoMountedControllersBindMountsAndEscapes() {
        let layout = CgroupLayout.parse(mountInfo: """
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
            33 31 0:29 / /mnt/cpu\\040again rw - cgroup cgroup rw,cpu,cpuacct
            34 31 0:40 / /mnt/my\\040cgroups rw - cgroup cgroup rw,pids
            """)
        XCTAssertEqual(layout.mode, .legacy)
        XCTAssertEqual(layout.hierarchies, [
            CgroupHierarchy(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"], isUnified: false),
            CgroupHierarchy(mountPoint: "/mnt/my cgroups", controllers: ["pids"], isUnified: false),
        ])
    }

    func testNoCgroupMounts() {
        XCTAssertEqual(CgroupLayout.parse(mountInfo: "24 30 0:22 / /sys rw - sysfs sysfs rw\ngarbage\n").mode, .none)
        XCTAssertEqual(CgroupLayout.parse(mountInfo: "").hierarchies, [])
    }

    func testThisMachinesLayout() {
        let layout = CgroupLayout.current()
        print("cgroup mode here: \(layout.mode); hierarchies: \(layout.hierarchies.map(\.mountPoint))")
        XCTAssertNotEqual(layout.mode, .none)
    }

    // MARK: when placement does not apply

    private func place(parent: String = "machine", manager: String = "cgroupfs", noCgroups: Bool = false,
                       cgroupsMode: String = "enabled", invocationID: String? = nil,
                       systemdBus: String = "/nonexistent/systemd/private") -> CgroupPlacement.Outcome {
        CgroupPlacement.place(pid: getpid(), parent: parent, manager: manager, noCgroups: noCgroups,
                              cgroupsMode: cgroupsMode, invocationID: invocationID,
                              layout: CgroupLayout(hierarchies: []), systemdBus: systemdBus)
    }

    func testSkipsWhenCgroupsAreOff() {
        XCTAssertEqual(place(noCgroups: true), .skipped("the container runs without cgroups"))
        XCTAssertEqual(place(manager: "disabled"), .skipped("the cgroup manager is \"disabled\""))
        XCTAssertEqual(place(cgroupsMode: "disabled"), .skipped("the container's cgroups mode is \"disabled\""))
        XCTAssertEqual(place(cgroupsMode: "no-conmon"), .skipped("the container's cgroups mode is \"no-conmon\""))
    }

    func testSkipsUnderASystemdService() {
        guard case .skipped(let reason) = place(invocationID: "5c3c8a6d1f2e4b0f") else {
            return XCTFail("expected a skip")
        }
        XCTAssertTrue(reason.contains("INVOCATION_ID"), reason)
        XCTAssertEqual(place(invocationID: ""), .failed("cannot place pid \(getpid()) in a cgroup: no cgroup filesystem is mounted"),
                       "an empty INVOCATION_ID is no service")
    }

    func testSkipsWithoutAParent() {
        XCTAssertEqual(place(parent: ""), .skipped("no cgroup parent given"))
        XCTAssertEqual("\(place(parent: ""))", "cgroup placement skipped: no cgroup parent given")
    }

    func testTheSystemdManagerNeedsSystemd() throws {
        XCTAssertEqual(place(parent: "machine.slice", manager: "systemd"),
                       .skipped("systemd scope placement is not available: no systemd bus at /nonexistent/systemd/private (systemd is not running)"))
        // On this machine (no systemd as pid 1) the real bus path is missing too.
        if !FileSystem.exists(CgroupPlacement.systemdBus) {
            let outcome = CgroupPlacement.place(pid: getpid(), parent: "machine.slice", manager: "systemd",
                                                noCgroups: false, invocationID: nil)
            XCTAssertEqual(outcome, .skipped("systemd scope placement is not available: no systemd bus at /run/systemd/private (systemd is not running)"))
        }
        // A bus path that is there but answers nothing is a failure to
        // report, not a skip (SystemdScopeTests has a bus that answers).
        let dir = try TemporaryDirectory.make(prefix: "fakebus")
        defer { try? FileSystem.removeTree(dir) }
        try FileSystem.writeAtomically(dir + "/private", "")
        guard case .failed(let reason) = place(parent: "machine.slice", manager: "systemd", systemdBus: dir + "/private") else {
            return XCTFail("expected a failure")
        }
        XCTAssertTrue(reason.hasPrefix("cannot run pid \(getpid()) under systemd scope libpod-conmon-.scope in machine.slice: "), reason)
    }

    func testAParentEscapingTheHierarchyFails() {
        XCTAssertEqual(place(parent: "/machine/../../etc"),
                       .failed("invalid cgroup parent \"/machine/../../etc\": \"..\" is not allowed in a cgroup path"))
        XCTAssertEqual(try CgroupPlacement.relativePath(parent: "//libpod_parent/pod-1/"), ["libpod_parent", "pod-1", "conmon"])
        XCTAssertEqual(try CgroupPlacement.relativePath(parent: "/"), ["conmon"])
    }

    /// Every shim asks where to place itself at Create, and most have no
    /// cgroup parent: reading and parsing the mount table for nothing cost
    /// each of them CPU on the create path and memory for the parse.
    func testPlacementThatDoesNotApplyReadsNoMountTable() {
        var read = 0
        func layout() -> CgroupLayout {
            read += 1
            return CgroupLayout(hierarchies: [])
        }
        XCTAssertEqual(CgroupPlacement.place(pid: getpid(), parent: "", manager: "cgroupfs", noCgroups: false,
                                             invocationID: nil, layout: layout()), .skipped("no cgroup parent given"))
        XCTAssertEqual(CgroupPlacement.place(pid: getpid(), parent: "p", manager: "disabled", noCgroups: false,
                                             invocationID: nil, layout: layout()), .skipped("the cgroup manager is \"disabled\""))
        XCTAssertEqual(CgroupPlacement.remove(parent: "", evacuating: getpid(), layout: layout()), CgroupPlacement.Removal())
        XCTAssertEqual(read, 0, "the mount table was read \(read) time(s)")
        _ = CgroupPlacement.place(pid: getpid(), parent: "p", manager: "cgroupfs", noCgroups: false,
                                  invocationID: nil, layout: layout())
        XCTAssertEqual(read, 1, "placement that applies reads it once")
    }

    func testAHierarchyThatIsNotACgroupFilesystemFailsAsAWarning() throws {
        // A plain directory takes the mkdir but has no cgroup.procs to write.
        let dir = try TemporaryDirectory.make(prefix: "notacgroup")
        defer { try? FileSystem.removeTree(dir) }
        let layout = CgroupLayout(hierarchies: [CgroupHierarchy(mountPoint: dir, controllers: ["pids"], isUnified: false)])
        let outcome = CgroupPlacement.place(pid: getpid(), parent: "p", manager: "cgroupfs", noCgroups: false,
                                            invocationID: nil, layout: layout)
        XCTAssertEqual(outcome, .failed("cannot place pid \(getpid()) in cgroup /p/conmon: open \(dir)/p/conmon/cgroup.procs: No such file or directory"))
        XCTAssertTrue(FileSystem.isDirectory(dir + "/p/conmon"))
        let removal = CgroupPlacement.remove(parent: "p", layout: layout)
        XCTAssertEqual(removal.removed, [dir + "/p/conmon"])
        XCTAssertEqual(removal.kept, [])
        XCTAssertTrue(FileSystem.isDirectory(dir + "/p"), "the parent is shared and stays")
    }

    // MARK: real cgroups (root on this machine)

    /// The cgroup path of `pid` in each hierarchy line of /proc/<pid>/cgroup,
    /// keyed by the hierarchy's controller list ("memory", "name=systemd", "" for v2).
    private func cgroups(of pid: pid_t) throws -> [String: String] {
        let text = try FileSystem.readString("/proc/\(pid)/cgroup")
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3 { out[String(parts[1])] = String(parts[2]) }
        }
        return out
    }

    private func requireWritableCgroups(_ layout: CgroupLayout) throws {
        guard geteuid() == 0 else { throw XCTSkip("moving processes between cgroups needs root") }
        guard let pids = layout.hierarchies.first(where: { $0.controllers.contains("pids") || $0.controllers.contains("memory") || $0.isUnified }) else {
            throw XCTSkip("no memory, pids or unified hierarchy is mounted")
        }
        let probe = pids.mountPoint + "/ocishim-probe-\(getpid())"
        guard mkdir(probe, 0o755) == 0 else {
            throw XCTSkip("cgroups are not writable here: mkdir \(probe): \(String(cString: strerror(errno)))")
        }
        rmdir(probe)
    }

    func testTheShimLandsInParentSlashConmonInEveryHierarchy() throws {
        let layout = CgroupLayout.current()
        try requireWritableCgroups(layout)
        let parent = "ocishim-test-\(getpid())"

        let child = try Spawner.spawn(SpawnOptions(path: "/bin/sleep", arguments: ["sleep", "60"], environment: []))
        defer {
            kill(child, SIGKILL)
            var status: Int32 = 0
            waitpid(child, &status, 0)
            for hierarchy in layout.hierarchies {
                rmdir(hierarchy.mountPoint + "/" + parent + "/conmon")
                rmdir(hierarchy.mountPoint + "/" + parent)
            }
        }

        let outcome = CgroupPlacement.place(pid: child, parent: "/" + parent, manager: "cgroupfs", noCgroups: false,
                                            invocationID: nil, layout: layout)
        print("placement: \(outcome)")
        guard case .placed(let paths) = outcome else { return XCTFail("not placed: \(outcome)") }
        XCTAssertEqual(paths, layout.hierarchies.map { $0.mountPoint + "/" + parent + "/conmon" })

        let now = try cgroups(of: child)
        print("/proc/\(child)/cgroup: \(now)")
        let expected = "/" + parent + "/conmon"
        XCTAssertTrue(now["memory"] == expected || now["pids"] == expected, "memory or pids: \(now)")
        for hierarchy in layout.hierarchies {
            let key = hierarchy.isUnified ? "" : hierarchy.controllers.joined(separator: ",")
            XCTAssertEqual(now[key], expected, "hierarchy \(hierarchy.mountPoint)")
        }
        if let cpuset = layout.hierarchies.first(where: { $0.controllers.contains("cpuset") }) {
            let cpus = try FileSystem.readString(cpuset.mountPoint + "/" + parent + "/conmon/cpuset.cpus")
            XCTAssertFalse(cpus.filter { $0 != "\n" }.isEmpty, "a new cpuset cgroup inherits its parent's CPUs")
        }

        // Placing again (another shim with the same parent) is fine.
        XCTAssertEqual(CgroupPlacement.place(pid: child, parent: parent, manager: "cgroupfs", noCgroups: false,
                                             invocationID: nil, layout: layout), outcome)

        // While a process is inside, the shared leaf stays.
        let busy = CgroupPlacement.remove(parent: parent, layout: layout)
        XCTAssertEqual(busy.removed, [])
        XCTAssertEqual(busy.kept.count, layout.hierarchies.count)
        XCTAssertTrue(busy.kept.allSatisfy { $0.contains("Device or resource busy") }, "\(busy.kept)")

        // The exiting shim moves itself out first; then the leaf goes.
        let gone = CgroupPlacement.remove(parent: parent, evacuating: child, layout: layout)
        XCTAssertEqual(gone.kept, [])
        XCTAssertEqual(gone.removed, paths)
        let after = try cgroups(of: child)
        XCTAssertEqual(after["pids"] ?? after[""], "/", "moved back to the root cgroup")
        XCTAssertTrue(FileSystem.isDirectory(layout.hierarchies[0].mountPoint + "/" + parent), "the parent stays")
    }

    func testAPureV2LayoutPlacesInTheUnifiedHierarchy() throws {
        // The pure-v2 code path on this hybrid host: a cgroup of our own in
        // the cgroup2 mount stands in for the root of a v2-only host, so the
        // controller enabling touches nothing but the test's cgroups.
        let current = CgroupLayout.current()
        guard let unified = current.hierarchies.first(where: \.isUnified) else {
            throw XCTSkip("no cgroup2 hierarchy is mounted")
        }
        try requireWritableCgroups(CgroupLayout(hierarchies: [unified]))
        let base = unified.mountPoint + "/ocishim-v2-\(getpid())"
        XCTAssertEqual(mkdir(base, 0o755), 0)
        let layout = CgroupLayout(hierarchies: [CgroupHierarchy(mountPoint: base, controllers: [], isUnified: true)])
        XCTAssertEqual(layout.mode, .unified)

        let child = try Spawner.spawn(SpawnOptions(path: "/bin/sleep", arguments: ["sleep", "60"], environment: []))
        defer {
            try? CgroupPlacement.writeCgroupFile(unified.mountPoint + "/cgroup.procs", "\(child)\n")
            kill(child, SIGKILL)
            var status: Int32 = 0
            waitpid(child, &status, 0)
            rmdir(base + "/pod/conmon")
            rmdir(base + "/pod")
            rmdir(base)
        }
        let outcome = CgroupPlacement.place(pid: child, parent: "pod", manager: "cgroupfs", noCgroups: false,
                                            invocationID: nil, layout: layout)
        XCTAssertEqual(outcome, .placed([base + "/pod/conmon"]))
        XCTAssertEqual(try cgroups(of: child)[""], "/ocishim-v2-\(getpid())/pod/conmon")

        let offered = try FileSystem.readString(base + "/cgroup.controllers").split(whereSeparator: { $0 == " " || $0 == "\n" })
        let enabled = try FileSystem.readString(base + "/pod/cgroup.subtree_control").split(whereSeparator: { $0 == " " || $0 == "\n" })
        XCTAssertEqual(enabled, offered, "the parent enables every controller it has, for the container's cgroup")
        XCTAssertEqual(try FileSystem.readString(base + "/pod/conmon/cgroup.subtree_control").filter { $0 != "\n" }, "",
                       "the leaf enables none: it holds processes")
    }
}
