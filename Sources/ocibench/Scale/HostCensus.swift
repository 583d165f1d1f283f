import Foundation
import Glibc

/// What the host holds, read before and after the scale section's steps:
/// its available memory, and what containers and monitors can leave behind
/// (processes, runc state, cgroups, mounts, the engine's fds, files).
enum HostCensus {
    /// MemAvailable of /proc/meminfo, kB: what the host can still give
    /// without swapping (free memory plus reclaimable caches).
    static func memAvailableKB() -> Double {
        meminfo()["MemAvailable"] ?? 0
    }

    static func meminfo() -> [String: Double] {
        var values: [String: Double] = [:]
        for line in ((try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, parts[0].hasSuffix(":"), let value = Double(parts[1]) {
                values[String(parts[0].dropLast())] = value
            }
        }
        return values
    }

    /// The bench's own open fds.
    static func openFDs() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    /// The host's mount table (the bench's mount namespace), one line per mount.
    static func mounts() -> [String] {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Container ids in runc's state (`runc list -q`).
    static func runtimeContainers(runc: String) -> [String] {
        ((try? Processes.run(runc, ["list", "-q"], allowFailure: true)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The pids whose cgroup (any hierarchy) ends in one of `ids`: runc
    /// names a container's cgroup after its id when the bundle names none.
    static func processes(inCgroupsOf ids: Set<String>) -> [pid_t] {
        ProcFS.allPids().filter { pid in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return false }
            return text.split(separator: "\n").contains { line in
                guard let slash = line.lastIndex(of: "/") else { return false }
                return ids.contains(String(line[line.index(after: slash)...]))
            }
        }
    }

    /// Cgroup directories named after one of `ids`, wherever runc put them:
    /// under each hierarchy's root and under the bench's own cgroup there.
    static func cgroups(of ids: Set<String>) -> [String] {
        var parents = Set<String>()
        for mount in mounts() {
            // "... mountpoint ... - fstype source options"
            let fields = mount.split(separator: " ").map(String.init)
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields.count > 4,
                  fields[dash + 1] == "cgroup" || fields[dash + 1] == "cgroup2" else { continue }
            let mountPoint = fields[4]
            parents.insert(mountPoint)
            let root = fields[3]
            if let own = ownCgroup(mountOptions: fields.last ?? "", v2: fields[dash + 1] == "cgroup2"),
               own.hasPrefix(root) {
                parents.insert(mountPoint + String(own.dropFirst(root.count)))
            }
        }
        var found: [String] = []
        for parent in parents {
            for id in ids where FileManager.default.fileExists(atPath: parent + "/" + id) {
                found.append(parent + "/" + id)
            }
        }
        return found.sorted()
    }

    /// The bench's cgroup in the hierarchy mounted with these options.
    private static func ownCgroup(mountOptions: String, v2: Bool) -> String? {
        let options = Set(mountOptions.split(separator: ",").map(String.init))
        for line in ((try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "").split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            if v2 ? parts[1].isEmpty : (!parts[1].isEmpty && parts[1].split(separator: ",").allSatisfy { options.contains(String($0)) }) {
                return parts[2]
            }
        }
        return nil
    }

    /// The entries of a directory tree, relative to it ("" if it is gone).
    static func files(under dir: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: dir) else { return [] }
        return enumerator.compactMap { $0 as? String }.sorted()
    }
}
