import ContainerdProtocol
import Foundation
import Glibc
import ShimCore
import ShimSystem
import XCTest
@testable import ContainerdFrontend

/// Stats on cgroup v2: the container's unified cgroup and what is read from
/// it, on a directory of cgroup v2 files written by the test as a 6.x
/// kernel writes them (this host's /sys/fs/cgroup is v1).
final class CgroupV2MetricsTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = try TemporaryDirectory.make(prefix: "cgroup-v2")
    }

    override func tearDown() {
        try? FileSystem.removeTree(root)
    }

    private func write(_ file: String, _ text: String) throws {
        let path = root + "/ns/c1/" + file
        try FileSystem.createDirectory(FileSystem.dirname(of: path), mode: 0o755)
        try FileSystem.writeAtomically(path, text)
    }

    private var cgroup: CgroupV2Metrics { CgroupV2Metrics(directory: root + "/ns/c1") }

    func testTheUnifiedCgroupOfTheProcessIsFound() throws {
        let hybrid = "12:pids:/ns/c1\n4:memory:/ns/c1\n1:name=systemd:/ns/c1\n0::/ns/c1\n"
        XCTAssertEqual(CgroupV2Metrics.of(membership: hybrid, mountPoint: root)?.directory, root + "/ns/c1")
        XCTAssertEqual(CgroupV2Metrics.of(membership: "0::/\n", mountPoint: root)?.directory, root, "the root cgroup")
        XCTAssertNil(CgroupV2Metrics.of(membership: "4:memory:/ns/c1\n", mountPoint: root), "no unified line")
    }

    func testTheFilesAreReadAsContainerdsRuncShimReadsThem() throws {
        try write("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
        try write("cpu.stat", """
            usage_usec 51234
            user_usec 41000
            system_usec 10234
            core_sched.force_idle_usec 0
            nr_periods 12
            nr_throttled 3
            throttled_usec 4567
            nr_bursts 0
            burst_usec 0

            """)
        try write("memory.stat", """
            anon 1310720
            file 8192
            kernel 372736
            kernel_stack 32768
            pagetables 40960
            sec_pagetables 0
            percpu 480
            sock 4096
            vmalloc 0
            shmem 0
            zswap 0
            file_mapped 4096
            file_dirty 0
            file_writeback 0
            anon_thp 0
            inactive_anon 1294336
            active_anon 16384
            inactive_file 8192
            active_file 0
            unevictable 0
            slab_reclaimable 139184
            slab_unreclaimable 155376
            slab 294560
            workingset_refault_anon 0
            workingset_refault 7
            workingset_activate 5
            workingset_nodereclaim 1
            pgfault 1911
            pgmajfault 2
            pgrefill 11
            pgscan 13
            pgsteal 17
            pgactivate 19
            pgdeactivate 23
            pglazyfree 29
            pglazyfreed 31
            thp_fault_alloc 37
            thp_collapse_alloc 41

            """)
        try write("pids.current", "2\n")
        try write("pids.max", "max\n")
        try write("memory.current", "1757184\n")
        try write("memory.max", "16777216\n")
        try write("memory.swap.current", "0\n")
        try write("memory.swap.max", "max\n")
        try write("memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n")
        try write("io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=12 wbytes=0 rios=3 wios=0 dbytes=0 dios=0\n")
        try write("rdma.current", "mlx4_0 hca_handle=1 hca_object=20\n")
        try write("rdma.max", "mlx4_0 hca_handle=2 hca_object=max\n")
        try write("hugetlb.2MB.current", "2097152\n")
        try write("hugetlb.2MB.max", "max\n")
        try write("hugetlb.2MB.rsvd.current", "0\n")
        try write("hugetlb.2MB.events", "max 0\n")
        try write("hugetlb.1GB.current", "0\n")
        try write("hugetlb.1GB.max", "1073741824\n")

        let metrics = try cgroup.read()
        XCTAssertEqual(metrics.pids.current, 2)
        XCTAssertEqual(metrics.pids.limit, UInt64.max, "pids.max max: UInt64.max, as containerd/cgroups v2 reports it")
        XCTAssertEqual(metrics.cpu.usageUsec, 51234)
        XCTAssertEqual(metrics.cpu.userUsec, 41000)
        XCTAssertEqual(metrics.cpu.systemUsec, 10234)
        XCTAssertEqual(metrics.cpu.nrPeriods, 12)
        XCTAssertEqual(metrics.cpu.nrThrottled, 3)
        XCTAssertEqual(metrics.cpu.throttledUsec, 4567)
        XCTAssertEqual(metrics.memory.anon, 1310720)
        XCTAssertEqual(metrics.memory.kernelStack, 32768)
        XCTAssertEqual(metrics.memory.slab, 294560)
        XCTAssertEqual(metrics.memory.sock, 4096)
        XCTAssertEqual(metrics.memory.fileMapped, 4096)
        XCTAssertEqual(metrics.memory.inactiveAnon, 1294336)
        XCTAssertEqual(metrics.memory.slabReclaimable, 139184)
        XCTAssertEqual(metrics.memory.workingsetRefault, 7)
        XCTAssertEqual(metrics.memory.workingsetNodereclaim, 1)
        XCTAssertEqual(metrics.memory.pgfault, 1911)
        XCTAssertEqual(metrics.memory.pgmajfault, 2)
        XCTAssertEqual(metrics.memory.pglazyfreed, 31)
        XCTAssertEqual(metrics.memory.thpCollapseAlloc, 41)
        XCTAssertEqual(metrics.memory.usage, 1757184)
        XCTAssertEqual(metrics.memory.usageLimit, 16777216)
        XCTAssertEqual(metrics.memory.swapUsage, 0)
        XCTAssertEqual(metrics.memory.swapLimit, UInt64.max)
        XCTAssertTrue(metrics.hasMemoryEvents)
        XCTAssertEqual(metrics.memoryEvents.max, 9)
        XCTAssertEqual(metrics.memoryEvents.oom, 2)
        XCTAssertEqual(metrics.memoryEvents.oomKill, 1)
        XCTAssertEqual(metrics.io.usage.map(\.major), [8, 253])
        XCTAssertEqual(metrics.io.usage.map(\.minor), [0, 1])
        XCTAssertEqual(metrics.io.usage.map(\.rbytes), [4096, 12])
        XCTAssertEqual(metrics.io.usage.map(\.wbytes), [8192, 0])
        XCTAssertEqual(metrics.io.usage.map(\.rios), [1, 3])
        XCTAssertEqual(metrics.io.usage.map(\.wios), [2, 0])
        XCTAssertEqual(metrics.rdma.current.map(\.device), ["mlx4_0"])
        XCTAssertEqual(metrics.rdma.current.first?.hcaObjects, 20)
        XCTAssertEqual(metrics.rdma.limit.first?.hcaHandles, 2)
        XCTAssertEqual(metrics.rdma.limit.first?.hcaObjects, UInt32.max, "max")
        XCTAssertEqual(metrics.hugetlb.map(\.pagesize), ["1GB", "2MB"])
        XCTAssertEqual(metrics.hugetlb.map(\.current), [0, 2097152])
        XCTAssertEqual(metrics.hugetlb.map(\.max), [1073741824, UInt64.max])

        let packed = try ContainerCgroup.v2(cgroup).stats()
        XCTAssertEqual(packed.typeURL, TypeURL.cgroupsV2Metrics)
        XCTAssertEqual(try Io_Containerd_Cgroups_V2_Metrics(serializedBytes: [UInt8](packed.value)), metrics)
    }

    /// cpu.stat and memory.stat are read for the controllers the cgroup has
    /// (cgroup.controllers); the other files wherever they exist.
    func testOnlyTheEnabledControllersStatFilesAreRead() throws {
        try write("cgroup.controllers", "pids\n")
        try write("cpu.stat", "usage_usec 99\n")
        try write("memory.stat", "anon 4096\n")
        try write("pids.current", "1\n")
        try write("pids.max", "64\n")
        let metrics = try cgroup.read()
        XCTAssertEqual(metrics.cpu.usageUsec, 0, "cpu is not enabled in this cgroup")
        XCTAssertEqual(metrics.memory.anon, 0, "memory is not enabled in this cgroup")
        XCTAssertEqual(metrics.pids.limit, 64)
        XCTAssertFalse(metrics.hasMemoryEvents, "no memory.events: no entry")
        XCTAssertTrue(metrics.io.usage.isEmpty)
        XCTAssertTrue(metrics.hugetlb.isEmpty)
    }

    func testAGoneCgroupAndAMalformedStatFileAreErrors() throws {
        XCTAssertThrowsError(try cgroup.read()) { error in
            XCTAssertTrue("\(error)".contains(root + "/ns/c1/cgroup.controllers"), "\(error)")
        }
        try write("cgroup.controllers", "memory\n")
        try write("memory.stat", "anon 1 2\n")
        XCTAssertThrowsError(try cgroup.read()) { error in
            XCTAssertEqual("\(error)", "error while parsing \(root)/ns/c1/memory.stat (line=\"anon 1 2\"): cgroups: parsing file with invalid format failed")
        }
    }

    /// The host check is statfs's: this host's /sys/fs/cgroup/unified is the
    /// cgroup2 mount of a hybrid layout, /sys/fs/cgroup itself is not one.
    func testCgroup2IsToldByItsFilesystemType() throws {
        XCTAssertFalse(CgroupLayout.isCgroup2(root), "a tmp directory is no cgroup2")
        guard CgroupLayout.current().hierarchies.contains(where: { $0.isUnified && $0.mountPoint == "/sys/fs/cgroup/unified" }) else {
            print("testCgroup2IsToldByItsFilesystemType: no cgroup2 mount at /sys/fs/cgroup/unified on this host; only the negative case checked")
            return
        }
        XCTAssertTrue(CgroupLayout.isCgroup2("/sys/fs/cgroup/unified"))
    }
}
