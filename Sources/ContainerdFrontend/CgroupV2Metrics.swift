import ContainerdProtocol
import Glibc
import ShimSystem

/// Stats on a cgroup v2 host: the container's cgroup read as containerd's
/// runc shim reads it (containerd/cgroups v2 `Manager.Stat`), into
/// `io.containerd.cgroups.v2.Metrics`: cpu.stat and memory.stat for the
/// controllers enabled in the cgroup, pids.current and pids.max,
/// memory.current/max and memory.swap.current/max, memory.events, io.stat,
/// rdma.current and rdma.max, hugetlb.<size>.current and .max. A missing
/// file counts as zero, as there; a cgroup that is gone is an error.
struct CgroupV2Metrics {
    /// The container's cgroup directory (`/sys/fs/cgroup` + its path).
    let directory: String

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The unified cgroup of a process, from its /proc/<pid>/cgroup line
    /// "0::<path>"; nil when it has none.
    static func of(membership: String, mountPoint: String = "/sys/fs/cgroup") -> CgroupV2Metrics? {
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if fields.count == 3 && fields[0] == "0" && fields[1].isEmpty {
                let path = fields[2] == "/" ? "" : String(fields[2])
                return CgroupV2Metrics(directory: mountPoint + path)
            }
        }
        return nil
    }

    func read() throws(Failure) -> Io_Containerd_Cgroups_V2_Metrics {
        let controllers = try text("cgroup.controllers").split(whereSeparator: { $0 == " " || $0 == "\n" })
        // One table for the keyed files and the single values, as there.
        var values: [String: Value] = [:]
        for controller in controllers where controller == "cpu" || controller == "memory" {
            try keyed("\(controller).stat", into: &values)
        }
        for file in ["pids.current", "pids.max"] {
            if let content = try optionalText(file) { values[file] = Value(content.trimmingCharacters(" \n\t")) }
        }
        var events: [String: Value] = [:]
        try keyed("memory.events", into: &events)

        var metrics = Io_Containerd_Cgroups_V2_Metrics()
        metrics.pids.current = values["pids.current"]?.count ?? 0
        metrics.pids.limit = values["pids.max"]?.countOrMax ?? 0
        metrics.cpu = cpu(values)
        metrics.memory = memory(values)
        if !events.isEmpty {
            var memoryEvents = Io_Containerd_Cgroups_V2_MemoryEvents()
            memoryEvents.low = events["low"]?.count ?? 0
            memoryEvents.high = events["high"]?.count ?? 0
            memoryEvents.max = events["max"]?.count ?? 0
            memoryEvents.oom = events["oom"]?.count ?? 0
            memoryEvents.oomKill = events["oom_kill"]?.count ?? 0
            metrics.memoryEvents = memoryEvents
        }
        metrics.io.usage = ioUsage()
        metrics.rdma.current = rdma("rdma.current")
        metrics.rdma.limit = rdma("rdma.max")
        metrics.hugetlb = hugetlb()
        return metrics
    }

    // --- the controllers ----------------------------------------------------------

    private func cpu(_ values: [String: Value]) -> Io_Containerd_Cgroups_V2_CPUStat {
        var stat = Io_Containerd_Cgroups_V2_CPUStat()
        stat.usageUsec = values["usage_usec"]?.count ?? 0
        stat.userUsec = values["user_usec"]?.count ?? 0
        stat.systemUsec = values["system_usec"]?.count ?? 0
        stat.nrPeriods = values["nr_periods"]?.count ?? 0
        stat.nrThrottled = values["nr_throttled"]?.count ?? 0
        stat.throttledUsec = values["throttled_usec"]?.count ?? 0
        return stat
    }

    private func memory(_ values: [String: Value]) -> Io_Containerd_Cgroups_V2_MemoryStat {
        var stat = Io_Containerd_Cgroups_V2_MemoryStat()
        let value = { (key: String) in values[key]?.count ?? 0 }
        stat.anon = value("anon")
        stat.file = value("file")
        stat.kernelStack = value("kernel_stack")
        stat.slab = value("slab")
        stat.sock = value("sock")
        stat.shmem = value("shmem")
        stat.fileMapped = value("file_mapped")
        stat.fileDirty = value("file_dirty")
        stat.fileWriteback = value("file_writeback")
        stat.anonThp = value("anon_thp")
        stat.inactiveAnon = value("inactive_anon")
        stat.activeAnon = value("active_anon")
        stat.inactiveFile = value("inactive_file")
        stat.activeFile = value("active_file")
        stat.unevictable = value("unevictable")
        stat.slabReclaimable = value("slab_reclaimable")
        stat.slabUnreclaimable = value("slab_unreclaimable")
        stat.pgfault = value("pgfault")
        stat.pgmajfault = value("pgmajfault")
        stat.workingsetRefault = value("workingset_refault")
        stat.workingsetActivate = value("workingset_activate")
        stat.workingsetNodereclaim = value("workingset_nodereclaim")
        stat.pgrefill = value("pgrefill")
        stat.pgscan = value("pgscan")
        stat.pgsteal = value("pgsteal")
        stat.pgactivate = value("pgactivate")
        stat.pgdeactivate = value("pgdeactivate")
        stat.pglazyfree = value("pglazyfree")
        stat.pglazyfreed = value("pglazyfreed")
        stat.thpFaultAlloc = value("thp_fault_alloc")
        stat.thpCollapseAlloc = value("thp_collapse_alloc")
        stat.usage = single("memory.current")
        stat.usageLimit = single("memory.max")
        stat.swapUsage = single("memory.swap.current")
        stat.swapLimit = single("memory.swap.max")
        return stat
    }

    /// io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." per device.
    private func ioUsage() -> [Io_Containerd_Cgroups_V2_IOEntry] {
        guard let content = try? optionalText("io.stat") else { return [] }
        var entries: [Io_Containerd_Cgroups_V2_IOEntry] = []
        for line in content.split(separator: "\n", omittingEmptySubsequences: false) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            let device = parts[0].split(separator: ":", omittingEmptySubsequences: false)
            guard device.count == 2 else { continue }
            // A device number that is not one ends the list, as there.
            guard let major = UInt64(device[0]), let minor = UInt64(device[1]) else { return entries }
            var entry = Io_Containerd_Cgroups_V2_IOEntry()
            entry.major = major
            entry.minor = minor
            for pair in parts.dropFirst() {
                let kv = pair.split(separator: "=", omittingEmptySubsequences: false)
                guard kv.count == 2, let value = UInt64(kv[1]) else { continue }
                switch kv[0] {
                case "rbytes": entry.rbytes = value
                case "wbytes": entry.wbytes = value
                case "rios": entry.rios = value
                case "wios": entry.wios = value
                default: break
                }
            }
            entries.append(entry)
        }
        return entries
    }

    /// rdma.current / rdma.max: "DEVICE hca_handle=N hca_object=N" ("max":
    /// UInt32.max).
    private func rdma(_ file: String) -> [Io_Containerd_Cgroups_V2_RdmaEntry] {
        guard let content = try? optionalText(file) else { return [] }
        var entries: [Io_Containerd_Cgroups_V2_RdmaEntry] = []
        for line in content.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 3 else { continue }
            var entry = Io_Containerd_Cgroups_V2_RdmaEntry()
            entry.device = String(fields[0])
            for pair in fields.dropFirst() {
                let kv = pair.split(separator: "=", omittingEmptySubsequences: false)
                guard kv.count == 2 else { continue }
                let value: UInt32
                if kv[1] == "max" { value = .max } else if let number = Value(String(kv[1])).uint32 { value = number } else { continue }
                if kv[0] == "hca_handle" { entry.hcaHandles = value } else if kv[0] == "hca_object" { entry.hcaObjects = value }
            }
            entries.append(entry)
        }
        return entries
    }

    /// hugetlb.<size>.current and hugetlb.<size>.max, one entry per page
    /// size (by size, where containerd's order is its map's).
    private func hugetlb() -> [Io_Containerd_Cgroups_V2_HugeTlbStat] {
        var bySize: [String: Io_Containerd_Cgroups_V2_HugeTlbStat] = [:]
        for name in (try? FileSystem.list(directory)) ?? [] where name.contains("hugetlb") {
            guard name.hasSuffix("max") || name.hasSuffix("current") else { continue }
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            let size = String(parts[1])
            var stat = bySize[size] ?? Io_Containerd_Cgroups_V2_HugeTlbStat()
            stat.pagesize = size
            guard let content = try? optionalText(name) else { continue }
            let trimmed = content.trimmingCharacters(" \n\t")
            guard let value = trimmed == "max" ? UInt64.max : UInt64(trimmed) else { continue }
            switch parts[2] {
            case "max": stat.max = value
            case "current": stat.current = value
            default: break
            }
            bySize[size] = stat
        }
        return bySize.keys.sorted().compactMap { bySize[$0] }
    }

    // --- files ----------------------------------------------------------------------

    /// A file's content; ENOENT included, a failure names the path.
    private func text(_ file: String) throws(Failure) -> String {
        let path = FileSystem.join(directory, file)
        do { return try FileSystem.readString(path, limit: 1 << 20) } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// nil when the file does not exist (the controller is not enabled).
    private func optionalText(_ file: String) throws(Failure) -> String? {
        let path = FileSystem.join(directory, file)
        do {
            guard let bytes = try FileSystem.readIfExists(path, limit: 1 << 20) else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// A number file's value: "max" is UInt64.max, a missing or unreadable
    /// file 0 (containerd/cgroups getStatFileContentUint64).
    private func single(_ file: String) -> UInt64 {
        guard let content = try? optionalText(file) else { return 0 }
        return Value(content.trimmingCharacters(" \n\t")).countOrMax
    }

    /// "key value" lines; a line of another shape is an error, as there.
    private func keyed(_ file: String, into values: inout [String: Value]) throws(Failure) {
        guard let content = try optionalText(file) else { return }
        for line in content.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 else {
                throw Failure(description: "error while parsing \(FileSystem.join(directory, file)) (line=\"\(line)\"): cgroups: parsing file with invalid format failed")
            }
            values[String(fields[0])] = Value(String(fields[1]))
        }
    }

    /// A value as containerd/cgroups parses it: an unsigned number, a
    /// negative one read as 0, anything else kept as text ("max").
    struct Value {
        let text: String

        init(_ text: String) { self.text = text }

        /// The number; a negative one or text counts as 0.
        var count: UInt64 { UInt64(text) ?? 0 }

        /// The number, "max" being UInt64.max.
        var countOrMax: UInt64 { text == "max" ? .max : count }

        var uint32: UInt32? {
            if let value = UInt32(text) { return value }
            if let value = Int64(text), value < 0 { return 0 }
            return nil
        }
    }
}
