import Foundation
import Glibc
import ShimSystem

/// The shim of a running container is SIGKILLed; then what `ocictl ps`,
/// `state`, `kill`, `rm` and `rm --force` do. Wanted (issue "Trust
/// defects" item 5): ps and state say the shim is gone (not "running", not
/// a connection error), and `rm --force` falls back to the runtime as
/// conmon's engines do: the runtime's container, its processes and the
/// state folder are gone afterwards. kill and plain rm are only reported.
enum ShimKill {
    static func run(_ lab: Lab, _ report: Report) throws {
        let root = try lab.directory("shim-kill")
        let id = lab.uniqueID("orphan")
        lab.cleanup.container(id)
        let bundle = try lab.bundle(["sleep", "1000000"])
        let stateDir = root + "/" + id
        let created = lab.ocictl(["create", "--state-root", root, "--bundle", bundle, id])
        if let pid = lab.shimPid(stateDir) { lab.cleanup.process(pid) }
        guard report.expect(created.succeeded, "ocictl create (\(created.summary))") else { return }
        let started = lab.ocictl(["start", "--state-root", root, id])
        guard report.expect(started.succeeded, "ocictl start (\(started.summary))") else { return }
        guard let shimPid = lab.shimPid(stateDir), let initPid = StateJSON.containerPid(stateDir) else {
            report.fail("no shim or container pid in \(stateDir)/state.json")
            return
        }
        kill(shimPid, SIGKILL)
        let end = lab.reaper.wait(shimPid, seconds: 10)
        report.tried("ocictl create + start, then SIGKILL to the shim (pid \(shimPid), \(end.map { "\($0)" } ?? "still running")); then ocictl ps, state, kill, rm, rm --force")
        report.found("the container's init (pid \(initPid)) \(ProcInfo.alive(initPid) ? "still runs, orphaned" : "is gone"); the runtime says: \(lab.runtimeStatus(id) ?? "no such container")")

        let ps = lab.ocictl(["ps", "--state-root", root])
        let row = ps.output.split(separator: "\n").first { $0.hasPrefix(id) }.map(String.init) ?? "(no row)"
        report.found("ocictl ps: \(row.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))")
        report.expect(row.contains("gone") && !row.contains(" running "),
                      "ocictl ps shows the shim gone and does not call the container running")
        let state = lab.ocictl(["state", "--state-root", root, id])
        report.found("ocictl state: \(state.summary)")
        let text = state.output.lowercased()
        report.expect(!text.contains("connection refused") && ["gone", "not running", "dead", "no shim"].contains { text.contains($0) },
                      "ocictl state reports the shim as gone (not a connection error)")
        let killed = lab.ocictl(["kill", "--state-root", root, id, "KILL"])
        report.found("ocictl kill (reported, not judged): \(killed.summary)")
        let removed = lab.ocictl(["rm", "--state-root", root, id])
        report.found("ocictl rm without --force (reported, not judged): \(removed.summary)")
        if removed.succeeded && !FileManager.default.fileExists(atPath: stateDir) {
            // The container had stopped (the kill above) and plain rm took it.
            report.found("ocictl rm removed the stopped container; rm --force has nothing left to do")
        } else {
            let forced = lab.ocictl(["rm", "--force", "--state-root", root, id])
            report.found("ocictl rm --force: \(forced.summary)")
            report.expect(forced.succeeded, "ocictl rm --force succeeds")
        }
        report.expect(!FileManager.default.fileExists(atPath: stateDir),
                      "ocictl rm --force removes the state folder" + (FileManager.default.fileExists(atPath: stateDir)
                        ? " (left: \(((try? FileManager.default.contentsOfDirectory(atPath: stateDir)) ?? []).sorted().joined(separator: ", ")))" : ""))
        let runtime = lab.runtimeStatus(id)
        report.expect(runtime == nil, "ocictl rm --force removes the runtime's container (runc state: \(runtime ?? "none"))")
        _ = lab.eventually(3) { !ProcInfo.alive(initPid) }
        report.expect(!ProcInfo.alive(initPid), "no process of the container is left (init pid \(initPid))")
    }
}
