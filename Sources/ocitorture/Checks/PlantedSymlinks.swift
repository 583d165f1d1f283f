import Foundation
import Glibc
import ShimProtocol
import ShimSystem

/// Symlinks planted where the shim writes: at its temporary names
/// (`<exit-dir>/<id>.tmp.<pid>`, `<persist-dir>/exit.tmp.<pid>`,
/// `<state-dir>/state.json.tmp.<pid>`, `<shim-pid-file>.tmp.<pid>`; the pid
/// is the shim's, from Hello) and at the log path itself, each pointing at a
/// file of the suite's. The container runs and exits 3.
///
/// Must hold (issue "Trust defects" item 7): every target is unchanged, and
/// the exit file, the persist dir's exit file, state.json and the pid file
/// are regular files (a rename of a planted symlink would leave a symlink),
/// the exit files holding 3.
enum PlantedSymlinks {
    static func run(_ lab: Lab, _ report: Report) throws {
        let dir = try lab.directory("planted")
        let bundle = try lab.bundle(["sh", "-c", "echo planted; exit 3"])
        let exitDir = dir + "/exits", persistDir = dir + "/persist", stateDir = dir + "/state"
        for d in [exitDir, persistDir, stateDir] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let pidFile = dir + "/shim.pidfile"

        // 1: the temporary names.
        let shim = try ShimUnderTest(lab, tag: "planted", stateDir: stateDir)
        defer { shim.destroy() }
        let id = shim.id, pid = shim.pid
        var targets: [(link: String, target: String)] = []
        for (name, link) in [("exit", "\(exitDir)/\(id).tmp.\(pid)"), ("persist-exit", "\(persistDir)/exit.tmp.\(pid)"),
                             ("state", "\(stateDir)/state.json.tmp.\(pid)"), ("pidfile", "\(pidFile).tmp.\(pid)")] {
            let target = dir + "/target-" + name
            try "ORIGINAL \(name)\n".write(toFile: target, atomically: false, encoding: .utf8)
            guard symlink(target, link) == 0 else { throw TortureError("symlink \(link): \(String(cString: strerror(errno)))") }
            targets.append((link, target))
        }
        var outcome = "created"
        do {
            try shim.run(bundle: bundle) {
                $0.exitDir = exitDir
                $0.persistDir = persistDir
                $0.shimPidFile = pidFile
            }
            let exit: Ocishim_V1_WaitResponse = try shim.client.call("Wait", Ocishim_V1_WaitRequest())
            outcome = "ran, exit \(exit.exitCode)"
            _ = lab.eventually(5) { FileManager.default.fileExists(atPath: "\(exitDir)/\(id)") }
        } catch {
            outcome = "failed: \(error)"
        }
        report.tried("symlinks to files of the suite at \(targets.map { FileSystem.shortName($0.link, dir) }.joined(separator: ", ")); the container (echo; exit 3) \(outcome)")
        for (link, target) in targets {
            let text = (try? String(contentsOfFile: target, encoding: .utf8)) ?? "(unreadable)"
            report.expect(text.hasPrefix("ORIGINAL"), "the target of \(FileSystem.shortName(link, dir)) is unchanged" + (text.hasPrefix("ORIGINAL") ? "" : " (it now holds \(text.prefix(60).debugDescription))"))
        }
        for (path, content) in [("\(exitDir)/\(id)", "3"), ("\(persistDir)/exit", "3"), ("\(stateDir)/state.json", nil), (pidFile, "\(pid)")] {
            let kind = FileSystem.kind(path)
            let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let ok = kind == "regular file" && (content == nil || text == content)
            report.expect(ok, "\(FileSystem.shortName(path, dir)) is a regular file\(content.map { " holding \($0)" } ?? "") (found: \(kind)\(text.map { ", \($0.prefix(40).debugDescription)" } ?? ""))")
        }

        // 2: the log path itself is a symlink.
        let logTarget = dir + "/target-log"
        try "ORIGINAL log\n".write(toFile: logTarget, atomically: false, encoding: .utf8)
        let logPath = dir + "/ctr.log"
        guard symlink(logTarget, logPath) == 0 else { throw TortureError("symlink \(logPath)") }
        let second = try ShimUnderTest(lab, tag: "planted-log")
        defer { second.destroy() }
        var logOutcome = "created"
        do {
            try second.run(bundle: bundle) {
                $0.log.drivers = [Ocishim_V1_LogDriver.with { $0.driver = "k8s-file"; $0.path = logPath }]
            }
            let _: Ocishim_V1_WaitResponse = try second.client.call("Wait", Ocishim_V1_WaitRequest())
            logOutcome = "ran"
        } catch {
            logOutcome = "refused: \(error)"
        }
        let logText = (try? String(contentsOfFile: logTarget, encoding: .utf8)) ?? ""
        report.tried("a log path that is a symlink to a file of the suite; Create \(logOutcome)")
        report.expect(logText == "ORIGINAL log\n", "the log's symlink is not followed (its target \(logText == "ORIGINAL log\n" ? "is unchanged" : "now holds \(logText.prefix(80).debugDescription)"))")
    }
}

extension FileSystem {
    /// A path relative to `base`, for messages.
    static func shortName(_ path: String, _ base: String) -> String {
        path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
    }

    /// "regular file", "symlink", "FIFO", "directory", "missing"...
    static func kind(_ path: String) -> String {
        var st = stat()
        guard lstat(path, &st) == 0 else { return "missing" }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return "regular file"
        case S_IFLNK: return "symlink to \(readLink(path) ?? "?")"
        case S_IFIFO: return "FIFO"
        case S_IFDIR: return "directory"
        default: return "special file"
        }
    }
}
