import Foundation
import Glibc
import ShimSystem
import ShimClient
import ShimProtocol

/// Many exec sessions in a row, of the three kinds an engine uses: ExecSync,
/// Exec + ExecState + ExecCleanup, and Attach with an exec request. Before
/// and after (each time after a quiet second, when the idle shim has given
/// memory back): the shim's fds, zombie children and RSS must be flat.
enum ExecChurn {
    static func run(_ lab: Lab, _ report: Report) throws {
        let bundle = try lab.bundle(["sleep", "1000000"])
        let shim = try ShimUnderTest(lab, tag: "execs")
        defer { shim.destroy() }
        try shim.run(bundle: bundle)
        let client = shim.client
        client.timeoutSeconds = 30
        for i in 0..<5 { _ = try? execSync(client, i) }
        usleep(1_500_000)
        let fds0 = shim.fdCount, rss0 = shim.rssKB, zombies0 = shim.zombies.count

        let total = lab.scaled(100, 1000)
        var failures: [String] = []
        var kinds: [String: Int] = [:]
        var samples: [String] = []
        let began = Clock.monotonicNanos()
        for i in 0..<total {
            do {
                switch i % 10 {
                case 9:
                    kinds["Exec+ExecState+ExecCleanup", default: 0] += 1
                    try detachedSession(client, i)
                case 4:
                    kinds["Attach(exec)", default: 0] += 1
                    try attachedSession(client, i)
                default:
                    kinds["ExecSync", default: 0] += 1
                    try execSync(client, i)
                }
            } catch {
                if failures.count < 5 { failures.append("exec \(i): \(error)") } else { failures.append("") }
            }
            if (i + 1) % (total / 4) == 0 {
                samples.append("after \(i + 1): fds \(shim.fdCount), RSS \(formatKB(shim.rssKB))")
            }
        }
        let rate = Double(total) / seconds(since: began)
        usleep(1_500_000)
        let rss1 = shim.rssAfterIdleRelease(atMost: rss0 + 2048)
        let fds1 = shim.fdCount, zombies1 = shim.zombies.count
        let state: Ocishim_V1_StateResponse? = try? client.call("State", Ocishim_V1_StateRequest())
        report.tried("\(total) exec sessions (\(kinds.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))) at \(String(format: "%.0f", rate))/s")
        report.found("fds \(fds0) -> \(fds1), zombies \(zombies0) -> \(zombies1), RSS \(formatKB(rss0)) -> \(formatKB(rss1)) (after its idle release); during: \(samples.joined(separator: "; "))")
        report.expect(failures.isEmpty, "every exec answered with its output and exit code" + (failures.isEmpty ? "" : " (\(failures.count) failed: \(failures.filter { !$0.isEmpty }.joined(separator: "; ")))"))
        report.expect(shim.isAlive, "the shim is alive")
        report.expect(fds1 <= fds0, "fds flat (\(fds0) -> \(fds1))")
        report.expect(zombies1 == 0, "no zombie children (\(zombies1))")
        report.expect(rss1 <= rss0 + 2048, "RSS flat (at most 2 MiB above \(formatKB(rss0)): \(formatKB(rss1)))")
        report.expect(state?.execIds.isEmpty == true, "no session left in State (\(state?.execIds.count ?? -1))")
    }

    static func execSync(_ client: ShimClient, _ i: Int) throws {
        let r: Ocishim_V1_ExecSyncResponse = try client.call("ExecSync", Ocishim_V1_ExecSyncRequest.with {
            $0.exec.args = ["echo", "exec \(i)"]
        })
        guard r.exitCode == 0, String(decoding: r.stdout, as: UTF8.self) == "exec \(i)\n" else {
            throw TortureError("ExecSync answered exit \(r.exitCode), stdout \(String(decoding: r.stdout, as: UTF8.self).debugDescription)")
        }
    }

    static func detachedSession(_ client: ShimClient, _ i: Int) throws {
        let id = "churn-\(i)"
        let _: Ocishim_V1_ExecResponse = try client.call("Exec", Ocishim_V1_ExecRequest.with { $0.execID = id; $0.args = ["sh", "-c", "exit 7"] })
        let deadline = Date().addingTimeInterval(15)
        while true {
            let s: Ocishim_V1_ExecStateResponse = try client.call("ExecState", Ocishim_V1_ExecStateRequest.with { $0.execID = id })
            if !s.running {
                guard s.exitCode == 7 else { throw TortureError("session \(id) exited \(s.exitCode), not 7") }
                break
            }
            if Date() > deadline { throw TortureError("session \(id) still runs after 15 s") }
            usleep(5_000)
        }
        let _: Ocishim_V1_ExecCleanupResponse = try client.call("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = id })
    }

    static func attachedSession(_ client: ShimClient, _ i: Int) throws {
        let id = "churn-attach-\(i)"
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with {
            $0.options.stdout = true
            $0.options.stderr = true
            $0.options.exec = Ocishim_V1_ExecRequest.with { $0.execID = id; $0.args = ["echo", "attached \(i)"] }
        })
        var output = ""
        var exit: Int32?
        while let message = try stream.next(Ocishim_V1_AttachOutput.self, timeoutSeconds: 15) {
            output += String(decoding: message.data, as: UTF8.self)
            if message.exited { exit = message.exitCode; break }
        }
        guard exit == 0, output == "attached \(i)\n" else {
            throw TortureError("attached exec: exit \(exit.map(String.init) ?? "none"), output \(output.debugDescription)")
        }
        let _: Ocishim_V1_ExecCleanupResponse = try client.call("ExecCleanup", Ocishim_V1_ExecCleanupRequest.with { $0.execID = id })
    }
}
