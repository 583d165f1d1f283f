import Foundation
import Glibc
import ShimSystem

/// Creates that must fail without harming anyone (issue "Trust defects"
/// items 1 and 2): the id of a running container again under another state
/// root (the runtime's ids are global), the same id under the same state
/// root, and a state folder that ocictl did not make.
enum CreateConflicts {
    static func run(_ lab: Lab, _ report: Report) throws {
        let root1 = try lab.directory("conflicts-a"), root2 = try lab.directory("conflicts-b")
        let id = lab.uniqueID("dup")
        lab.cleanup.container(id)
        let bundle = try lab.bundle(["sleep", "1000000"])
        let stateDir = root1 + "/" + id
        let created = lab.ocictl(["create", "--state-root", root1, "--bundle", bundle, id])
        if let pid = lab.shimPid(stateDir) { lab.cleanup.process(pid) }
        guard report.expect(created.succeeded && lab.ocictl(["start", "--state-root", root1, id]).succeeded,
                            "the first container runs (\(created.summary))") else { return }
        let shimPid = lab.shimPid(stateDir) ?? 0, initPid = StateJSON.containerPid(stateDir) ?? 0

        func firstIsIntact(_ after: String) {
            let runtime = lab.runtimeStatus(id)
            let state = lab.ocictl(["state", "--state-root", root1, id])
            let files = ["state.json", "shim.sock", "ctr.log"].filter { !FileManager.default.fileExists(atPath: stateDir + "/" + $0) }
            report.expect(runtime == "running" && ProcInfo.alive(initPid), "after \(after): the first container still runs (runc: \(runtime ?? "no such container"), init \(ProcInfo.alive(initPid) ? "alive" : "gone"))")
            report.expect(lab.reaper.alive(shimPid) && state.succeeded && state.output.contains("running"),
                          "after \(after): its shim still serves it (ocictl state: \(state.summary.split(separator: "\n").prefix(2).joined(separator: " ")))")
            report.expect(files.isEmpty, "after \(after): its state folder is intact" + (files.isEmpty ? "" : " (missing: \(files.joined(separator: ", ")))"))
        }

        // Item 1: the same id under another state root.
        let other = lab.ocictl(["create", "--state-root", root2, "--bundle", bundle, id])
        report.tried("ocictl create of the running container's id under another state root")
        report.found("it \(other.succeeded ? "succeeded" : "failed: \(other.summary)")")
        report.expect(!other.succeeded, "the second create fails")
        firstIsIntact("the create under another root")
        report.expect(!FileManager.default.fileExists(atPath: root2 + "/" + id), "the failed create left nothing under its own state root")

        // Item 2: the same id under the same state root.
        let again = lab.ocictl(["create", "--state-root", root1, "--bundle", bundle, id])
        report.tried("ocictl create of the running container's id under its own state root")
        report.found("it \(again.succeeded ? "succeeded" : "failed: \(again.summary)")")
        report.expect(!again.succeeded, "the second create fails")
        firstIsIntact("the create under the same root")

        // Item 2: a folder ocictl did not make is not deleted by a failed create.
        let root3 = try lab.directory("conflicts-c")
        let id3 = lab.uniqueID("foreign")
        lab.cleanup.container(id3)
        let foreign = root3 + "/" + id3
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: foreign + "/keep-me", contents: Data("not ocictl's\n".utf8))
        let failing = lab.ocictl(["create", "--state-root", root3, "--bundle", root3 + "/no-such-bundle", id3])
        report.tried("ocictl create (with a bundle that does not exist) where <state-root>/<id> already exists, holding a file of someone else")
        report.found("it \(failing.succeeded ? "succeeded" : "failed: \(failing.summary)")")
        report.expect(FileManager.default.fileExists(atPath: foreign + "/keep-me"), "the existing folder and its file are still there")

        let removed = lab.ocictl(["rm", "--force", "--state-root", root1, id])
        report.found("ocictl rm --force of the first container: \(removed.summary)")
    }
}
