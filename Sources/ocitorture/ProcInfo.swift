import Foundation
import Glibc

/// What /proc says about a process: the numbers the checks compare before
/// and after (fds, resident memory, zombie children) and, for a process that
/// stopped answering, where it sleeps.
enum ProcInfo {
    /// The fields of /proc/<pid>/stat after the command name.
    static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// R, S, D, Z...; nil when the process is gone.
    static func state(_ pid: pid_t) -> String? { statFields(pid).map { String($0[0]) } }

    static func parent(_ pid: pid_t) -> pid_t? { statFields(pid).flatMap { $0.count > 1 ? pid_t($0[1]) : nil } }

    /// Exists and is not a zombie.
    static func alive(_ pid: pid_t) -> Bool {
        guard pid > 0, Glibc.kill(pid, 0) == 0 || errno == EPERM else { return false }
        if let s = state(pid) { return s != "Z" && s != "X" }
        return false
    }

    /// When the process started (clock ticks since boot): with pids reused
    /// quickly (pid_max is often 32768), a pid names "our" process only
    /// while its start time is the one seen when it was ours.
    static func startTime(_ pid: pid_t) -> UInt64? {
        guard let f = statFields(pid), f.count > 19 else { return nil }
        return UInt64(f[19])
    }

    /// utime + stime in seconds.
    static func cpuSeconds(_ pid: pid_t) -> Double? {
        guard let f = statFields(pid), f.count > 12, let user = Double(f[11]), let system = Double(f[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Open fds.
    static func fdCount(_ pid: pid_t) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// Where fd `n` of `pid` points.
    static func fdTarget(_ pid: pid_t, _ fd: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")
    }

    /// Resident set size in KiB (VmRSS).
    static func rssKB(_ pid: pid_t) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    static func allPids() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(pid_t.init)
    }

    /// Zombie children of `parent`.
    static func zombies(of parent: pid_t) -> [pid_t] {
        allPids().filter { pid in
            guard let f = statFields(pid), f.count > 1 else { return false }
            return f[0] == "Z" && pid_t(f[1]) == parent
        }
    }

    /// The kernel function a sleeping process waits in (e.g. wait_for_partner
    /// for an open() of a FIFO that has no writer), and its kernel stack.
    static func whereBlocked(_ pid: pid_t) -> String {
        let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "?"
        let stack = (try? String(contentsOfFile: "/proc/\(pid)/stack", encoding: .utf8))?
            .split(separator: "\n").prefix(4).map { $0.split(separator: " ").last.map(String.init) ?? "" }
            .joined(separator: " <- ") ?? ""
        return "state \(state(pid) ?? "gone"), wchan \(wchan.isEmpty ? "-" : wchan)" + (stack.isEmpty ? "" : ", kernel stack \(stack)")
    }

    /// The argument vector of `pid`.
    static func commandLine(_ pid: pid_t) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Processes whose command line mentions `text` (the suite's unique work
    /// directory names every process it started), except this one.
    static func pids(mentioning text: String) -> [pid_t] {
        let me = getpid()
        return allPids().filter { $0 != me && commandLine($0).contains { $0.contains(text) } }
    }
}
