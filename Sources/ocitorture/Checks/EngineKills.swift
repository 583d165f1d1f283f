import Foundation
import Glibc
import ShimSystem
import ShimClient
import ShimProtocol

/// A container prints numbered lines while the engines around it are
/// SIGKILLed in the middle of the stream, again and again: first the engine
/// that spawned the shim and talks to it on stdio (`ocictl run`), then
/// attached clients (`ocictl attach`), log followers (`ocictl logs -f`),
/// event subscribers (`ocictl events`) and socket clients that vanish with
/// output unread. Afterwards the log holds every line exactly once, in
/// order, and the shim is still there.
enum EngineKills {
    static func run(_ lab: Lab, _ report: Report) throws {
        let root = try lab.directory("engine-kills")
        let id = lab.uniqueID("lines")
        lab.cleanup.container(id)
        let chunk = 500
        let stopFile = "/stop-\(id)"
        let script = "i=0; while [ ! -e \(stopFile) ]; do seq $((i*\(chunk)+1)) $((i*\(chunk)+\(chunk))); i=$((i+1)); usleep 2000; done; echo total $((i*\(chunk)))"
        let bundle = try lab.bundle(["sh", "-c", script])
        let hostStopFile = lab.rootfs(ofBundle: bundle) + stopFile
        defer { unlink(hostStopFile) }
        let stateDir = root + "/" + id
        let kills = lab.scaled(10, 40)

        // The engine on the shim's stdio: ocictl run, killed once the output flows.
        let run = try lab.commands.start(lab.ocictl, ["run", "--state-root", root, "--bundle", bundle, id],
                                          environment: lab.ocictlEnvironment)
        lab.cleanup.process(run)
        let logPath = stateDir + "/ctr.log"
        guard lab.eventually(20, { (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int).map { $0 > 0 } ?? false }) else {
            report.fail("the container's log never got output (ocictl run: \(lab.reaper.termination(of: run).map { "\($0)" } ?? "running"))")
            return
        }
        usleep(UInt32.random(in: 50_000...250_000, using: &lab.random))
        kill(run, SIGKILL)
        _ = lab.reaper.wait(run, seconds: 10)
        guard let shimPid = lab.shimPid(stateDir) else {
            report.fail("no shim pid in \(stateDir)")
            return
        }
        lab.cleanup.process(shimPid)

        var killed: [String: Int] = ["ocictl run (the shim's stdio engine)": 1]
        let kinds = ["attach", "logs", "events", "socket"]
        for _ in 1..<kills {
            let kind = kinds.randomElement(using: &lab.random)!
            let delay = UInt32.random(in: 30_000...300_000, using: &lab.random)
            switch kind {
            case "socket":
                // A client that attaches and subscribes, reads a little, and vanishes.
                if let c = try? ShimClient.connect(stateDir: stateDir) {
                    _ = try? c.openStream("Attach", Ocishim_V1_AttachInput.with { $0.options.stdout = true; $0.options.stderr = true })
                    _ = try? c.openStream("Events", Ocishim_V1_EventsRequest())
                    _ = try? c.connection.receive(timeoutMillis: 50)
                    usleep(delay)
                    c.close()
                }
            default:
                let args: [String] = kind == "attach" ? ["attach", "--no-stdin"] : kind == "logs" ? ["logs", "-f"] : ["events"]
                let pid = try lab.commands.start(lab.ocictl, args + ["--state-root", root, id], environment: lab.ocictlEnvironment)
                lab.cleanup.process(pid)
                usleep(delay)
                kill(pid, SIGKILL)
                _ = lab.reaper.wait(pid, seconds: 10)
            }
            killed[kind == "socket" ? "socket clients (attach+events, closed unread)" : "ocictl \(kind)", default: 0] += 1
        }
        _ = FileManager.default.createFile(atPath: hostStopFile, contents: nil)

        guard let client = try? ShimClient.connect(stateDir: stateDir) else {
            report.fail("cannot reach the shim after the kills: \(lab.reaper.termination(of: shimPid).map { "\($0)" } ?? "alive, socket refused")")
            return
        }
        defer { client.close() }
        let exit: Ocishim_V1_WaitResponse? = try? client.call("Wait", Ocishim_V1_WaitRequest(), timeoutSeconds: 60)
        report.tried("a container printing numbered lines (seq, \(chunk) per chunk) while \(kills) engines were SIGKILLed mid-stream: " +
                     killed.sorted { $0.key < $1.key }.map { "\($0.value)x \($0.key)" }.joined(separator: ", "))
        report.expect(exit?.exitCode == 0, "the container ran to its end (exit \(exit.map { "\($0.exitCode)" } ?? "unknown"))")
        report.expect(lab.reaper.alive(shimPid), "the shim survived every engine kill")

        let log = K8sLog(path: logPath)
        var numbered = NumberedLines()
        for line in log.lines() { numbered.see(line) }
        let total = numbered.other.compactMap { $0.hasPrefix("total ") ? Int($0.dropFirst(6)) : nil }.first
        report.found("\(log.records.count) records, \(numbered.count) numbered lines in order, \(numbered.missing) missing, \(numbered.duplicated) twice, \(numbered.outOfOrder) out of order; the container says it printed \(total.map(String.init) ?? "?")")
        report.expect(log.malformed.isEmpty, "every log line is a whole k8s-file record" + (log.malformed.isEmpty ? "" : ": \(log.malformed.prefix(3))"))
        report.expect(numbered.clean && total == numbered.count && numbered.count > 0,
                      "the log has every line exactly once, in order (\(numbered.count) of \(total.map(String.init) ?? "?"))"
                      + (numbered.firstProblems.isEmpty ? "" : ": \(numbered.firstProblems.joined(separator: "; "))"))
        let removed = lab.ocictl(["rm", "--state-root", root, id])
        report.expect(removed.succeeded, "ocictl rm removes the container afterwards (\(removed.summary))")
    }
}
