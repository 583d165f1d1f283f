import Foundation
import Glibc
import ShimSystem
import XCTest
@testable import ContainerdFrontend

/// Stats on cgroup v1: where a process's cgroups are (its
/// /proc/<pid>/cgroup against the mounted hierarchies) and what is read
/// from them, on a cgroupfs written by the test.
final class CgroupV1MetricsTests: XCTestCase {
    let mountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / ROOT/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / ROOT/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        35 31 0:32 / ROOT/memory rw,relatime - cgroup cgroup rw,memory
        38 31 0:35 / ROOT/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / ROOT/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    let membership = """
        9:name=systemd:/
        8:pids:/ns/c1
        7:blkio:/ns/c1
        4:memory:/ns/c1
        2:cpuacct:/ns/c1
        1:cpu:/ns/c1
        0::/
        """

    private func write(_ path: String, _ text: String) throws {
        try FileSystem.createDirectory(FileSystem.dirname(of: path), mode: 0o755)
        try FileSystem.writeAtomically(path, text)
    }

    func testTheHierarchiesOfTheProcessAreFoundAndRead() throws {
        let root = try TemporaryDirectory.make(prefix: "cgroup-metrics")
        defer { try? FileSystem.removeTree(root) }
        let metricsSource = try XCTUnwrap(CgroupV1Metrics.of(membership: membership,
                                                           mountinfo: mountinfo.replacingOccurrences(of: "ROOT", with: root)))
        XCTAssertEqual(metricsSource.directories["memory"], root + "/memory/ns/c1")
        XCTAssertEqual(metricsSource.directories["cpu"], root + "/cpu/ns/c1")
        XCTAssertNil(metricsSource.directories["name=systemd"] , "named hierarchies are no controllers")

        try write(root + "/pids/ns/c1/pids.current", "3\n")
        try write(root + "/pids/ns/c1/pids.max", "max\n")
        try write(root + "/cpuacct/ns/c1/cpuacct.usage", "123456\n")
        try write(root + "/cpuacct/ns/c1/cpuacct.usage_percpu", "100000 23456 \n")
        try write(root + "/cpuacct/ns/c1/cpuacct.stat", "user 5\nsystem 2\n")
        try write(root + "/cpu/ns/c1/cpu.stat", "nr_periods 7\nnr_throttled 1\nthrottled_time 99\n")
        try write(root + "/memory/ns/c1/memory.stat", "cache 4096\nrss 8192\ntotal_cache 4096\nhierarchical_memory_limit 1048576\n")
        try write(root + "/memory/ns/c1/memory.usage_in_bytes", "12288\n")
        try write(root + "/memory/ns/c1/memory.max_usage_in_bytes", "20480\n")
        try write(root + "/memory/ns/c1/memory.limit_in_bytes", "1048576\n")
        try write(root + "/memory/ns/c1/memory.failcnt", "0\n")
        try write(root + "/memory/ns/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
        try write(root + "/blkio/ns/c1/blkio.throttle.io_serviced", "8:0 Read 4\n8:0 Write 6\nTotal 10\n")

        let metrics = metricsSource.read()
        XCTAssertEqual(metrics.pids.current, 3)
        XCTAssertEqual(metrics.pids.limit, 0, "max: no limit")
        XCTAssertEqual(metrics.cpu.usage.total, 123456)
        XCTAssertEqual(metrics.cpu.usage.perCpu, [100000, 23456])
        XCTAssertEqual(metrics.cpu.usage.user, 50_000_000, "5 ticks of 10 ms")
        XCTAssertEqual(metrics.cpu.usage.kernel, 20_000_000)
        XCTAssertEqual(metrics.cpu.throttling.throttledPeriods, 1)
        XCTAssertEqual(metrics.memory.cache, 4096)
        XCTAssertEqual(metrics.memory.rss, 8192)
        XCTAssertEqual(metrics.memory.totalCache, 4096)
        XCTAssertEqual(metrics.memory.hierarchicalMemoryLimit, 1048576)
        XCTAssertEqual(metrics.memory.usage.usage, 12288)
        XCTAssertEqual(metrics.memory.usage.max, 20480)
        XCTAssertEqual(metrics.memory.usage.limit, 1048576)
        XCTAssertFalse(metrics.memory.hasSwap, "no memsw files: no swap entry")
        XCTAssertEqual(metrics.memoryOomControl.oomKill, 2)
        XCTAssertEqual(metrics.blkio.ioServicedRecursive.map(\.op), ["Read", "Write"])
        XCTAssertEqual(metrics.blkio.ioServicedRecursive.map(\.value), [4, 6])
        XCTAssertEqual(metrics.blkio.ioServicedRecursive.first?.major, 8)
    }

    func testNoV1HierarchiesNoMetrics() {
        XCTAssertNil(CgroupV1Metrics.of(membership: "0::/user.slice\n", mountinfo: "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"))
    }
}
