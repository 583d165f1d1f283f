import Foundation
import Glibc
import ShimSystem

/// `ocictl create` SIGKILLed part-way, at each step of its work that can be
/// seen from outside (the state folder made, state.json written, the
/// socket bound, the runtime's create done) and after fixed delays; then
/// `ocictl rm --force`. Every half-done state must be removable: afterwards
/// no state folder, no runtime container, no shim (issue "Trust defects"
/// item 8).
enum CreateKilled {
    static func run(_ lab: Lab, _ report: Report) throws {
        let root = try lab.directory("create-killed")
        let bundle = try lab.bundle(["sleep", "1000000"])
        let exists = { (path: String) in FileManager.default.fileExists(atPath: path) }
        // (what, whether it has happened: state dir, seconds since the start)
        var points: [(String, (String, Double) -> Bool)] = [
            ("the state folder exists", { dir, _ in exists(dir) }),
            ("state.json exists", { dir, _ in exists(dir + "/state.json") }),
            ("shim.sock exists", { dir, _ in exists(dir + "/shim.sock") }),
            ("the runtime wrote the pid file", { dir, _ in exists(dir + "/pidfile") }),
        ]
        let delays: [Double] = lab.quick ? [0.02] : [0.002, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]
        for delay in delays {
            points.append(("\(Int(delay * 1000)) ms after the start", { _, elapsed in elapsed >= delay }))
        }
        var leftovers: [String] = []
        for (point, reached) in points {
            let id = lab.uniqueID("killed")
            lab.cleanup.container(id)
            let stateDir = root + "/" + id
            let pid = try lab.commands.start(lab.ocictl, ["create", "--state-root", root, "--bundle", bundle, id],
                                             environment: lab.ocictlEnvironment)
            let began = Clock.monotonicNanos()
            var when = "never"
            while seconds(since: began) < 10 {
                if reached(stateDir, seconds(since: began)) { when = String(format: "%.0f ms", seconds(since: began) * 1000); break }
                if lab.reaper.termination(of: pid) != nil { when = "ocictl had already exited"; break }
                usleep(500)
            }
            kill(pid, SIGKILL)
            _ = lab.reaper.wait(pid, seconds: 10)
            usleep(300_000)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: stateDir)) ?? []).sorted()
            let shims = ProcInfo.pids(mentioning: stateDir)
            let before = "killed when \(point) (\(when)): \(exists(stateDir) ? "folder [\(files.joined(separator: " "))]" : "no folder"), runtime \(lab.runtimeStatus(id) ?? "none"), \(shims.count) shim(s)"
            let rm = lab.ocictl(["rm", "--force", "--state-root", root, id], seconds: 30)
            _ = lab.eventually(3) { ProcInfo.pids(mentioning: stateDir).isEmpty }
            let left = [
                exists(stateDir) ? "the state folder" : nil,
                lab.runtimeStatus(id).map { "the runtime's container (\($0))" },
                ProcInfo.pids(mentioning: stateDir).isEmpty ? nil : "a shim process",
            ].compactMap { $0 }
            report.found("\(before); rm --force: \(rm.succeeded ? "ok" : rm.summary)\(left.isEmpty ? "" : "; left: \(left.joined(separator: ", "))")")
            if !left.isEmpty { leftovers.append("killed when \(point): \(left.joined(separator: ", "))") }
        }
        report.tried("ocictl create SIGKILLed at \(points.count) points (\(points.map(\.0).joined(separator: "; "))), then ocictl rm --force")
        report.expect(leftovers.isEmpty, "ocictl rm --force leaves nothing behind" + (leftovers.isEmpty ? "" : ": \(leftovers.joined(separator: "; "))"))
    }
}
