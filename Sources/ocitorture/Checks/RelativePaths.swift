import Foundation
import Glibc
import ShimSystem
import ShimClient
import ShimProtocol

/// Relative paths in Create (bundle, log path, exit dir), with the engine
/// (this process) and the shim in different working directories and a
/// decoy at the path relative to the shim's. The shim must refuse them with
/// a clear error or resolve them against the engine's directory, never
/// against its own (issue "Trust defects" item 10).
enum RelativePaths {
    static func run(_ lab: Lab, _ report: Report) throws {
        let base = try lab.directory("relative")
        let shimCwd = base + "/shim-cwd", engineCwd = base + "/engine-cwd"
        for d in [shimCwd, engineCwd] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let previous = FileManager.default.currentDirectoryPath
        defer { _ = chdir(previous) }
        let exiting = try lab.bundle(["sh", "-c", "echo relative; exit 3"])

        for (what, relative) in [("bundle", "b"), ("log path", "l/ctr.log"), ("exit dir", "x")] {
            let shim = try ShimUnderTest(lab, tag: "relative", directory: shimCwd)
            defer { shim.destroy() }
            // The shim may have moved; the decoy goes where it would resolve.
            let actual = ProcInfo.cwd(shim.pid) ?? shimCwd
            let rel = actual == shimCwd ? relative : String(shimCwd.dropFirst(actual == "/" ? 1 : actual.count + 1)) + "/" + relative
            let decoy = (actual == "/" ? "" : actual) + "/" + rel
            let real = engineCwd + "/" + rel
            guard chdir(engineCwd) == 0 else { throw TortureError("chdir \(engineCwd)") }
            var request = shim.createRequest(bundle: exiting)
            switch what {
            case "bundle":
                for target in [decoy, real] {
                    let made = try lab.bundle(["sh", "-c", "echo \(target == decoy ? "decoy" : "real"); exit 3"])
                    try FileManager.default.createDirectory(atPath: FileSystem.dirname(of: target), withIntermediateDirectories: true)
                    try FileManager.default.moveItem(atPath: made, toPath: target)
                }
                request.bundle = rel
            case "log path":
                for target in [decoy, real] { try FileManager.default.createDirectory(atPath: FileSystem.dirname(of: target), withIntermediateDirectories: true) }
                request.log.drivers = [Ocishim_V1_LogDriver.with { $0.driver = "k8s-file"; $0.path = rel }]
            default:
                for target in [decoy, real] { try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true) }
                request.exitDir = rel
            }
            var outcome: String
            var refused = false
            do {
                let _: Ocishim_V1_CreateResponse = try shim.client.call("Create", request)
                try shim.start()
                let _: Ocishim_V1_WaitResponse = try shim.client.call("Wait", Ocishim_V1_WaitRequest())
                if what == "exit dir" {
                    _ = lab.eventually(3) { FileManager.default.fileExists(atPath: decoy + "/" + shim.id) || FileManager.default.fileExists(atPath: real + "/" + shim.id) }
                }
                outcome = "accepted"
            } catch let error as ClientError {
                refused = error.rpcCode != nil
                outcome = "refused: \(error)"
            }
            _ = chdir(previous)
            let usedDecoy: Bool, usedReal: Bool
            switch what {
            case "bundle":
                let log = K8sLog(path: shim.stateDir + "/ctr.log").lines()
                usedDecoy = log.contains("decoy")
                usedReal = log.contains("real")
            case "log path":
                usedDecoy = FileManager.default.fileExists(atPath: decoy)
                usedReal = FileManager.default.fileExists(atPath: real)
            default:
                usedDecoy = FileManager.default.fileExists(atPath: decoy + "/" + shim.id)
                usedReal = FileManager.default.fileExists(atPath: real + "/" + shim.id)
            }
            report.tried("Create with the \(what) \"\(rel)\"; the engine's directory \(FileSystem.shortName(engineCwd, lab.workDir)), the shim's \(FileSystem.shortName(actual, lab.workDir))")
            report.found("\(outcome); \(usedDecoy ? "the path was resolved against the shim's directory" : usedReal ? "the path was resolved against the engine's directory" : "neither directory was used")")
            report.expect(!usedDecoy && (refused || usedReal),
                          "the relative \(what) is refused with a clear error or resolved against the engine's directory, not the shim's")
        }
    }
}

extension ProcInfo {
    static func cwd(_ pid: pid_t) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
    }
}
