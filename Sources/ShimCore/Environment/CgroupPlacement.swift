import Glibc
import ShimSystem
import SystemPackage

/// Puts the shim into `<cgroup-parent>/conmon`, as podman's
/// moveConmonToCgroupAndSignal does for conmon: the monitor's memory and
/// pids then count against the pod or container parent instead of the
/// engine's cgroup, and the engine's cgroup can be stopped or restarted
/// without touching running containers' monitors.
///
/// Nothing here is fatal: podman only warns when the move fails, and a
/// shim in the wrong cgroup still monitors its container correctly. The
/// caller logs the outcome.
///
/// With the systemd manager the shim asks systemd for a transient scope
/// instead (SystemdScope), as podman does; without a running systemd that
/// is reported as a skip.
public enum CgroupPlacement {
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        /// The cgroup directories the pid now belongs to, one per hierarchy.
        case placed([String])
        /// Placement does not apply; the reason says why, for the log.
        case skipped(String)
        /// Placement applied but did not (fully) succeed; a warning.
        case failed(String)

        /// One line for the shim's log.
        public var description: String {
            switch self {
            case .placed(let paths): return "placed in \(paths.joined(separator: ", "))"
            case .skipped(let reason): return "cgroup placement skipped: \(reason)"
            case .failed(let reason): return "cgroup placement failed: \(reason)"
            }
        }
    }

    /// What `remove` did: the directories removed, and the ones kept with why
    /// ("…/conmon: Device or resource busy" while another shim is still in it).
    public struct Removal: Sendable, Equatable {
        public var removed: [String] = []
        public var kept: [String] = []
    }

    /// conmon's name for the monitor's cgroup below the parent; shared by
    /// every monitor with that parent, like conmon's.
    public static let leaf = "conmon"

    /// The systemd manager's private bus socket: present iff systemd runs.
    public static let systemdBus = "/run/systemd/private"

    /// $INVOCATION_ID: set by systemd for every process of a service unit.
    public static func invocationIDFromEnvironment() -> String? {
        getenv("INVOCATION_ID").map { String(cString: $0) }
    }

    /// Moves `pid` into `<parent>/conmon` (cgroupfs), or into a transient
    /// scope named for `containerID` in the slice `parent` (systemd).
    /// - Parameters:
    ///   - manager: the engine's cgroup manager: "cgroupfs", "systemd" or "disabled".
    ///   - noCgroups: the container runs without cgroups (ctr.config.NoCgroups).
    ///   - cgroupsMode: the container's cgroups mode; "disabled" and
    ///     "no-conmon" leave the monitor where it is.
    public static func place(
        pid: pid_t, parent: String, manager: String, noCgroups: Bool,
        containerID: String = "", cgroupsMode: String = "enabled",
        invocationID: String? = invocationIDFromEnvironment(),
        layout readLayout: @autoclosure () -> CgroupLayout = .current(),
        systemdBus: String = systemdBus
    ) -> Outcome {
        if let reason = skipReason(parent: parent, manager: manager, noCgroups: noCgroups,
                                   cgroupsMode: cgroupsMode, invocationID: invocationID, systemdBus: systemdBus) {
            return .skipped(reason)
        }
        if manager == "systemd" {
            let unit = SystemdScope.unitName(containerID: containerID)
            let slice = SystemdScope.slice(parent: parent)
            do throws(SystemError) {
                _ = try SystemdScope.start(unit: unit, slice: slice, pid: pid, bus: systemdBus)
                return .placed(["systemd scope \(unit) in \(slice)"])
            } catch {
                return .failed("cannot run pid \(pid) under systemd scope \(unit) in \(slice): \(error)")
            }
        }
        // Read only now: most shims have no parent, and the mount table's
        // read and parse cost each of them on the create path.
        let layout = readLayout()
        let components: [String]
        do throws(CoreError) {
            components = try relativePath(parent: parent)
        } catch {
            return .failed(error.message)
        }
        if layout.hierarchies.isEmpty {
            return .failed("cannot place pid \(pid) in a cgroup: no cgroup filesystem is mounted")
        }
        var placed: [String] = []
        var failures: [String] = []
        for hierarchy in layout.hierarchies {
            let directory = hierarchy.mountPoint + "/" + components.joined(separator: "/")
            do throws(SystemError) {
                try place(pid: pid, in: hierarchy, components: components,
                          enableControllers: layout.mode == .unified)
                placed.append(directory)
            } catch {
                failures.append(error.description)
            }
        }
        if failures.isEmpty { return .placed(placed) }
        let cgroup = "/" + components.joined(separator: "/")
        var message = "cannot place pid \(pid) in cgroup \(cgroup): " + failures.joined(separator: "; ")
        if !placed.isEmpty { message += " (placed in \(placed.joined(separator: ", ")))" }
        return .failed(message)
    }

    /// Why placement does not apply, in podman's order; nil when it does.
    static func skipReason(parent: String, manager: String, noCgroups: Bool, cgroupsMode: String,
                           invocationID: String?, systemdBus: String) -> String? {
        if noCgroups { return "the container runs without cgroups" }
        if manager == "disabled" { return "the cgroup manager is \"disabled\"" }
        if cgroupsMode == "disabled" || cgroupsMode == "no-conmon" {
            return "the container's cgroups mode is \"\(cgroupsMode)\""
        }
        if let invocationID, !invocationID.isEmpty {
            return "running as a systemd service (INVOCATION_ID is set): systemd owns this process's cgroup"
        }
        if manager == "systemd" && !FileSystem.exists(systemdBus) {
            return "systemd scope placement is not available: no systemd bus at \(systemdBus) (systemd is not running)"
        }
        if parent.isEmpty { return "no cgroup parent given" }
        return nil
    }

    /// `<parent>/conmon` as path components below a hierarchy's root.
    static func relativePath(parent: String) throws(CoreError) -> [String] {
        let parts = parent.split(separator: "/").map(String.init)
        if let bad = parts.first(where: { $0 == "." || $0 == ".." }) {
            throw .invalid("invalid cgroup parent \"\(parent)\": \"\(bad)\" is not allowed in a cgroup path")
        }
        return parts + [leaf]
    }

    /// mkdir -p below the hierarchy's root, then the pid into cgroup.procs.
    private static func place(pid: pid_t, in hierarchy: CgroupHierarchy, components: [String],
                              enableControllers: Bool) throws(SystemError) {
        let directory = hierarchy.mountPoint + "/" + components.joined(separator: "/")
        // Another shim sharing the leaf may rmdir it between our mkdir and
        // our write (it exits and finds the leaf empty); then create it again.
        var attempt = 0
        while true {
            attempt += 1
            try createPath(hierarchy: hierarchy, components: components, enableControllers: enableControllers)
            do throws(SystemError) {
                try writeCgroupFile(directory + "/cgroup.procs", "\(pid)\n")
                return
            } catch where error.errno == .noSuchFileOrDirectory && attempt < 3 {
                continue
            }
        }
    }

    private static func createPath(hierarchy: CgroupHierarchy, components: [String],
                                   enableControllers: Bool) throws(SystemError) {
        var current = hierarchy.mountPoint
        for component in components {
            // On cgroup v2 a cgroup's children only get the controllers its
            // subtree_control enables; podman's cgroups.New enables all of
            // them down to the leaf's parent, for the container's cgroup
            // that will sit next to ours. Best effort: it is not needed to
            // place a process, and fails where the parent holds processes.
            if enableControllers {
                enableAllControllers(in: current)
            }
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw SystemError("mkdir \(current)")
            }
            if !hierarchy.isUnified {
                try inheritCpuset(current)
            }
        }
    }

    /// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and
    /// adding a task to it fails (ENOSPC) until they are set; copy the
    /// parent's, as podman's cpuset handler does. A no-op in other hierarchies.
    private static func inheritCpuset(_ directory: String) throws(SystemError) {
        let parent = FileSystem.dirname(of: directory)
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let path = directory + "/" + file
            guard let value = try FileSystem.readIfExists(path) else { continue }
            if !isBlank(value) { continue }
            let inherited = try FileSystem.read(parent + "/" + file)
            if isBlank(inherited) { continue }
            try writeCgroupFile(path, String(decoding: inherited, as: UTF8.self))
        }
    }

    private static func enableAllControllers(in directory: String) {
        guard let available = try? FileSystem.read(directory + "/cgroup.controllers") else { return }
        let names = String(decoding: available, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        if names.isEmpty { return }
        try? writeCgroupFile(directory + "/cgroup.subtree_control", names.map { "+" + $0 }.joined(separator: " "))
    }

    private static func isBlank(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }
    }

    /// cgroup files take one write of the whole value; no create, no truncate.
    static func writeCgroupFile(_ path: String, _ value: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open \(path)") }
        defer { close(fd) }
        try FileSystem.writeAll(fd: FileDescriptor(rawValue: fd), Array(value.utf8), what: path)
    }

    /// Removes `<parent>/conmon` from every hierarchy where it is empty, when
    /// the shim exits. The leaf is shared by every shim with that parent, so
    /// a busy leaf is kept, not an error. The shim is still alive, and so
    /// still in the leaf, when it calls this: `evacuating` (its own pid) is
    /// first moved to each hierarchy's root cgroup, the one cgroup a process
    /// may always be put in.
    @discardableResult
    public static func remove(parent: String, evacuating pid: pid_t? = nil,
                              layout readLayout: @autoclosure () -> CgroupLayout = .current()) -> Removal {
        var removal = Removal()
        guard !parent.isEmpty, let components = try? relativePath(parent: parent) else { return removal }
        let layout = readLayout()
        for hierarchy in layout.hierarchies {
            let directory = hierarchy.mountPoint + "/" + components.joined(separator: "/")
            if let pid, FileSystem.isDirectory(directory) {
                try? writeCgroupFile(hierarchy.mountPoint + "/cgroup.procs", "\(pid)\n")
            }
            if rmdir(directory) == 0 {
                removal.removed.append(directory)
            } else if errno != ENOENT {
                removal.kept.append(SystemError("rmdir \(directory)").description)
            }
        }
        return removal
    }
}
