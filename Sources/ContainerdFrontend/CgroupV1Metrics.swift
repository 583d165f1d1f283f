import ContainerdProtocol
import Glibc
import ShimSystem

/// Stats: the container's cgroup v1 statistics as containerd's runc shim
/// reports them (`io.containerd.cgroups.v1.Metrics`, containerd/cgroups'
/// v1 Stat with IgnoreNotExist): pids, cpu and cpuacct, memory (memory.stat,
/// usage, swap, kernel and kernel TCP entries, OOM control), blkio and
/// hugetlb. Read synchronously: cgroupfs files are generated in memory.
struct CgroupV1Metrics {
    /// Controller name → the container's directory in that hierarchy.
    let directories: [String: String]

    /// The cgroups of a process (its /proc/<pid>/cgroup) in the v1
    /// hierarchies mounted here (/proc/self/mountinfo); nil when none is.
    static func of(membership: String, mountinfo: String) -> CgroupV1Metrics? {
        // Controller → mount point of its v1 hierarchy.
        var mounts: [String: String] = [:]
        for line in mountinfo.split(separator: "\n") {
            guard let dash = line.firstRange(of: " - ") else { continue }
            let before = line[..<dash.lowerBound].split(separator: " ")
            let after = line[dash.upperBound...].split(separator: " ")
            guard before.count >= 5, after.count >= 3, after[0] == "cgroup" else { continue }
            // Super options: the controllers, besides rw/ro and a named
            // hierarchy's name= (no controller, nothing to read).
            for option in after[2].split(separator: ",") where option != "rw" && option != "ro" && !option.hasPrefix("name=") {
                mounts[String(option)] = String(before[4])
            }
        }
        guard !mounts.isEmpty else { return nil }
        var directories: [String: String] = [:]
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[1].isEmpty else { continue }
            for controller in fields[1].split(separator: ",") {
                if let mount = mounts[String(controller)] {
                    directories[String(controller)] = mount + (fields[2] == "/" ? "" : String(fields[2]))
                }
            }
        }
        return directories.isEmpty ? nil : CgroupV1Metrics(directories: directories)
    }

    func read() -> Io_Containerd_Cgroups_V1_Metrics {
        var metrics = Io_Containerd_Cgroups_V1_Metrics()
        if let dir = directories["pids"] { metrics.pids = pids(dir) }
        if directories["cpu"] != nil || directories["cpuacct"] != nil { metrics.cpu = cpu() }
        if let dir = directories["memory"] {
            metrics.memory = memory(dir)
            if let oom = oomControl(dir) { metrics.memoryOomControl = oom }
        }
        if let dir = directories["blkio"] { metrics.blkio = blkio(dir) }
        if let dir = directories["hugetlb"] { metrics.hugetlb = hugetlb(dir) }
        return metrics
    }

    // --- the controllers ----------------------------------------------------------

    private func pids(_ dir: String) -> Io_Containerd_Cgroups_V1_PidsStat {
        var stat = Io_Containerd_Cgroups_V1_PidsStat()
        stat.current = number(dir, "pids.current") ?? 0
        // "max" is no limit: 0, as containerd reports it.
        stat.limit = number(dir, "pids.max") ?? 0
        return stat
    }

    private func cpu() -> Io_Containerd_Cgroups_V1_CPUStat {
        var stat = Io_Containerd_Cgroups_V1_CPUStat()
        var usage = Io_Containerd_Cgroups_V1_CPUUsage()
        if let dir = directories["cpuacct"] {
            usage.total = number(dir, "cpuacct.usage") ?? 0
            usage.perCpu = text(dir, "cpuacct.usage_percpu")?.split(separator: " ").compactMap { UInt64(String($0).trimmingCharacters(" \n")) } ?? []
            // cpuacct.stat counts USER_HZ ticks (100 a second).
            let ticks = keyed(dir, "cpuacct.stat")
            usage.user = (ticks["user"] ?? 0) * 1_000_000_000 / 100
            usage.kernel = (ticks["system"] ?? 0) * 1_000_000_000 / 100
        }
        stat.usage = usage
        var throttling = Io_Containerd_Cgroups_V1_Throttle()
        if let dir = directories["cpu"] {
            let values = keyed(dir, "cpu.stat")
            throttling.periods = values["nr_periods"] ?? 0
            throttling.throttledPeriods = values["nr_throttled"] ?? 0
            throttling.throttledTime = values["throttled_time"] ?? 0
        }
        stat.throttling = throttling
        return stat
    }

    private func memory(_ dir: String) -> Io_Containerd_Cgroups_V1_MemoryStat {
        var stat = Io_Containerd_Cgroups_V1_MemoryStat()
        for (key, value) in keyed(dir, "memory.stat") {
            switch key {
            case "cache": stat.cache = value
            case "rss": stat.rss = value
            case "rss_huge": stat.rssHuge = value
            case "mapped_file": stat.mappedFile = value
            case "dirty": stat.dirty = value
            case "writeback": stat.writeback = value
            case "pgpgin": stat.pgPgIn = value
            case "pgpgout": stat.pgPgOut = value
            case "pgfault": stat.pgFault = value
            case "pgmajfault": stat.pgMajFault = value
            case "inactive_anon": stat.inactiveAnon = value
            case "active_anon": stat.activeAnon = value
            case "inactive_file": stat.inactiveFile = value
            case "active_file": stat.activeFile = value
            case "unevictable": stat.unevictable = value
            case "hierarchical_memory_limit": stat.hierarchicalMemoryLimit = value
            case "hierarchical_memsw_limit": stat.hierarchicalSwapLimit = value
            case "total_cache": stat.totalCache = value
            case "total_rss": stat.totalRss = value
            case "total_rss_huge": stat.totalRssHuge = value
            case "total_mapped_file": stat.totalMappedFile = value
            case "total_dirty": stat.totalDirty = value
            case "total_writeback": stat.totalWriteback = value
            case "total_pgpgin": stat.totalPgPgIn = value
            case "total_pgpgout": stat.totalPgPgOut = value
            case "total_pgfault": stat.totalPgFault = value
            case "total_pgmajfault": stat.totalPgMajFault = value
            case "total_inactive_anon": stat.totalInactiveAnon = value
            case "total_active_anon": stat.totalActiveAnon = value
            case "total_inactive_file": stat.totalInactiveFile = value
            case "total_active_file": stat.totalActiveFile = value
            case "total_unevictable": stat.totalUnevictable = value
            default: break
            }
        }
        stat.usage = memoryEntry(dir, "memory")
        // Swap and kernel accounting files exist only where enabled.
        if let swap = optionalEntry(dir, "memory.memsw") { stat.swap = swap }
        if let kernel = optionalEntry(dir, "memory.kmem") { stat.kernel = kernel }
        if let tcp = optionalEntry(dir, "memory.kmem.tcp") { stat.kernelTcp = tcp }
        return stat
    }

    private func optionalEntry(_ dir: String, _ prefix: String) -> Io_Containerd_Cgroups_V1_MemoryEntry? {
        FileSystem.exists(FileSystem.join(dir, "\(prefix).usage_in_bytes")) ? memoryEntry(dir, prefix) : nil
    }

    private func memoryEntry(_ dir: String, _ prefix: String) -> Io_Containerd_Cgroups_V1_MemoryEntry {
        var entry = Io_Containerd_Cgroups_V1_MemoryEntry()
        entry.usage = number(dir, "\(prefix).usage_in_bytes") ?? 0
        entry.max = number(dir, "\(prefix).max_usage_in_bytes") ?? 0
        entry.failcnt = number(dir, "\(prefix).failcnt") ?? 0
        entry.limit = number(dir, "\(prefix).limit_in_bytes") ?? 0
        return entry
    }

    private func oomControl(_ dir: String) -> Io_Containerd_Cgroups_V1_MemoryOomControl? {
        let values = keyed(dir, "memory.oom_control")
        guard !values.isEmpty else { return nil }
        var control = Io_Containerd_Cgroups_V1_MemoryOomControl()
        control.oomKillDisable = values["oom_kill_disable"] ?? 0
        control.underOom = values["under_oom"] ?? 0
        control.oomKill = values["oom_kill"] ?? 0
        return control
    }

    private func blkio(_ dir: String) -> Io_Containerd_Cgroups_V1_BlkIOStat {
        var stat = Io_Containerd_Cgroups_V1_BlkIOStat()
        // The CFQ statistics where the kernel has them, then the throttle
        // ones (containerd/cgroups' blkio.Stat does the same).
        if FileSystem.exists(FileSystem.join(dir, "blkio.io_serviced_recursive")) {
            stat.sectorsRecursive = blkioEntries(dir, "blkio.sectors_recursive")
            stat.ioServiceBytesRecursive = blkioEntries(dir, "blkio.io_service_bytes_recursive")
            stat.ioServicedRecursive = blkioEntries(dir, "blkio.io_serviced_recursive")
            stat.ioQueuedRecursive = blkioEntries(dir, "blkio.io_queued_recursive")
            stat.ioServiceTimeRecursive = blkioEntries(dir, "blkio.io_service_time_recursive")
            stat.ioWaitTimeRecursive = blkioEntries(dir, "blkio.io_wait_time_recursive")
            stat.ioMergedRecursive = blkioEntries(dir, "blkio.io_merged_recursive")
            stat.ioTimeRecursive = blkioEntries(dir, "blkio.time_recursive")
        }
        stat.ioServicedRecursive += blkioEntries(dir, "blkio.throttle.io_serviced")
        stat.ioServiceBytesRecursive += blkioEntries(dir, "blkio.throttle.io_service_bytes")
        return stat
    }

    /// Lines "MAJ:MIN [Op] VALUE"; "Total" lines are left out.
    private func blkioEntries(_ dir: String, _ file: String) -> [Io_Containerd_Cgroups_V1_BlkIOEntry] {
        guard let content = text(dir, file) else { return [] }
        var entries: [Io_Containerd_Cgroups_V1_BlkIOEntry] = []
        for line in content.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2 || fields.count == 3, fields[0] != "Total" else { continue }
            let device = fields[0].split(separator: ":")
            guard device.count == 2, let major = UInt64(device[0]), let minor = UInt64(device[1]),
                  let value = UInt64(fields[fields.count - 1]) else { continue }
            var entry = Io_Containerd_Cgroups_V1_BlkIOEntry()
            entry.major = major
            entry.minor = minor
            entry.op = fields.count == 3 ? String(fields[1]) : ""
            entry.value = value
            entry.device = Self.deviceName(major: major, minor: minor)
            entries.append(entry)
        }
        return entries
    }

    /// /dev/NAME of a block device, from sysfs; empty when unknown.
    static func deviceName(major: UInt64, minor: UInt64) -> String {
        guard let uevent = try? FileSystem.readString("/sys/dev/block/\(major):\(minor)/uevent", limit: 4096) else { return "" }
        for line in uevent.split(separator: "\n") where line.hasPrefix("DEVNAME=") {
            return "/dev/" + line.dropFirst("DEVNAME=".count)
        }
        return ""
    }

    private func hugetlb(_ dir: String) -> [Io_Containerd_Cgroups_V1_HugetlbStat] {
        var stats: [Io_Containerd_Cgroups_V1_HugetlbStat] = []
        for size in Self.hugePageSizes() {
            var stat = Io_Containerd_Cgroups_V1_HugetlbStat()
            stat.pagesize = size
            stat.usage = number(dir, "hugetlb.\(size).usage_in_bytes") ?? 0
            stat.max = number(dir, "hugetlb.\(size).max_usage_in_bytes") ?? 0
            stat.failcnt = number(dir, "hugetlb.\(size).failcnt") ?? 0
            stats.append(stat)
        }
        return stats
    }

    /// "2MB", "1GB": the names hugetlb's files use, from
    /// /sys/kernel/mm/hugepages/hugepages-<kB>kB.
    static func hugePageSizes() -> [String] {
        let names = (try? FileSystem.list("/sys/kernel/mm/hugepages")) ?? []
        return names.compactMap { name -> String? in
            guard name.hasPrefix("hugepages-"), name.hasSuffix("kB"),
                  let kb = UInt64(name.dropFirst("hugepages-".count).dropLast(2)) else { return nil }
            if kb >= 1 << 20 && kb % (1 << 20) == 0 { return "\(kb >> 20)GB" }
            if kb >= 1 << 10 && kb % (1 << 10) == 0 { return "\(kb >> 10)MB" }
            return "\(kb)KB"
        }.sorted()
    }

    // --- files ----------------------------------------------------------------------

    private func text(_ dir: String, _ file: String) -> String? {
        try? FileSystem.readString(FileSystem.join(dir, file), limit: 1 << 20)
    }

    private func number(_ dir: String, _ file: String) -> UInt64? {
        text(dir, file).flatMap { UInt64($0.trimmingCharacters(" \n")) }
    }

    /// "key value" lines.
    private func keyed(_ dir: String, _ file: String) -> [String: UInt64] {
        guard let content = text(dir, file) else { return [:] }
        var values: [String: UInt64] = [:]
        for line in content.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let value = UInt64(fields[1]) { values[String(fields[0])] = value }
        }
        return values
    }
}
