import Foundation
import Glibc

/// What /proc says about a monitor process.
enum ProcFS {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The fields of /proc/<pid>/stat after the command name.
    private static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// R, S, Z...; nil when the process is gone.
    static func state(_ pid: pid_t) -> String? {
        statFields(pid).map { String($0[0]) }
    }

    /// utime + stime in seconds: the process's own CPU time, without its
    /// children's. A zombie still reports it.
    static func cpuSeconds(_ pid: pid_t) -> Double? {
        // After ")": state(0) ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime(11) stime(12).
        guard let fields = statFields(pid), fields.count > 12,
              let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    /// Seconds every CPU of the machine spent busy since boot (/proc/stat's
    /// first line: user, nice, system, irq and softirq; not idle, iowait or
    /// steal). The difference over a burst is what the burst cost the whole
    /// machine: engines, monitors, runtimes and the kernel's work for them.
    static func machineBusySeconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 7 else { return nil }
        return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / ticksPerSecond
    }

    /// The host's load average over 1, 5 and 15 minutes (/proc/loadavg), as
    /// the document quotes it: the machine is shared, and figures taken
    /// under others' load must say so.
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    /// Seconds on a CPU (/proc/<pid>/schedstat, nanoseconds): the
    /// precision utime + stime (10 ms ticks) lacks for a process that runs
    /// for microseconds at a time.
    static func scheduledSeconds(_ pid: pid_t) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/schedstat", encoding: .utf8),
              let first = text.split(separator: " ").first, let nanos = Double(first) else { return nil }
        return nanos / 1e9
    }

    struct Memory {
        var rssKB: Double
        var pssKB: Double
        var privateDirtyKB: Double
    }

    /// From smaps_rollup: every mapping of the process summed up.
    static func memory(_ pid: pid_t) -> Memory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return nil }
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0].hasSuffix(":"), let value = Double(parts[1]) else { continue }
            values[String(parts[0].dropLast())] = value
        }
        guard let rss = values["Rss"], let pss = values["Pss"], let dirty = values["Private_Dirty"] else { return nil }
        return Memory(rssKB: rss, pssKB: pss, privateDirtyKB: dirty)
    }

    /// The numeric entries of /proc: every process of the host.
    static func allPids() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(pid_t.init)
    }

    /// The pids whose command line contains `text` (NUL-separated
    /// arguments, joined by spaces for the search).
    static func pids(mentioning text: String) -> [pid_t] {
        allPids().filter { commandLine($0)?.contains(text) == true }
    }

    /// The arguments of a process joined by spaces; nil once it is gone.
    static func commandLine(_ pid: pid_t) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    /// The pids whose /proc/<pid>/comm is `name`.
    static func pids(named name: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { pid in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }
}
