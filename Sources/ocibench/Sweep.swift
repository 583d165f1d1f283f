import Foundation
import Glibc

/// What a run of the bench may have left when it was killed: monitors whose
/// command line names its work directory (shims: --state-dir, conmon: -b
/// and --exit-dir), containers in runc's state whose id carries its prefix
/// (`ocibench-<pid>-`), and the work directory. Only those are touched.
/// Run by ocibench at its end and by Scripts/bench after it (`--sweep`).
struct Sweep {
    let runc: String
    let workDir: String
    let idPrefix: String

    /// Removes what is left; returns a line per kind of thing it removed.
    @discardableResult
    func run() -> [String] {
        var removed: [String] = []
        var killed = Set<pid_t>()
        for _ in 0..<5 {
            let pids = ProcFS.pids(mentioning: workDir).filter { $0 != getpid() }
            if pids.isEmpty { break }
            for pid in pids { kill(pid, SIGKILL) }
            killed.formUnion(pids)
            usleep(100_000)
            Processes.reapExited()
        }
        if !killed.isEmpty { removed.append("\(killed.count) monitor process(es)") }
        let ids = HostCensus.runtimeContainers(runc: runc).filter { $0.hasPrefix(idPrefix) }
        for id in ids { _ = try? Processes.run(runc, ["delete", "--force", id], allowFailure: true) }
        if !ids.isEmpty { removed.append("\(ids.count) container(s) in runc's state") }
        Processes.reapExited()
        if FileManager.default.fileExists(atPath: workDir) {
            try? FileManager.default.removeItem(atPath: workDir)
            removed.append(workDir)
        }
        return removed
    }
}
