import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// Attach clients and event subscribers that never read, while the
/// container prints tens of MB and exec sessions make events. Must hold:
/// the container is not held up (it prints everything and exits, all of it
/// in the log), the shim's memory stays within what its documented limits
/// allow (8 MiB unread per attach stream, then RESOURCE_EXHAUSTED), and the
/// memory is given back once those clients are gone.
enum SlowReaders {
    static func run(_ lab: Lab, _ report: Report) throws {
        let id = lab.uniqueID("flood")
        let lines = lab.scaled(200_000, 2_000_000)
        let go = "/go-\(id)"
        let text = String(repeating: "x", count: 99)
        let bundle = try lab.bundle(["sh", "-c", "while [ ! -e \(go) ]; do usleep 20000; done; yes \(text) | head -n \(lines)"])
        let rootfs = lab.rootfs(ofBundle: bundle)
        defer { unlink(rootfs + go) }
        let shim = try ShimUnderTest(lab, tag: "slow", id: id)
        defer { shim.destroy() }
        try shim.run(bundle: bundle)

        let attachClients = 4, eventConnections = 3, streamsPerConnection = 50
        var slow: [ShimClient] = []
        for _ in 0..<attachClients {
            let c = try shim.connect()
            _ = try c.openStream("Attach", Ocishim_V1_AttachInput.with { $0.options.stdout = true; $0.options.stderr = true })
            slow.append(c)
        }
        for _ in 0..<eventConnections {
            let c = try shim.connect()
            for _ in 0..<streamsPerConnection { _ = try c.openStream("Events", Ocishim_V1_EventsRequest()) }
            slow.append(c)
        }
        usleep(1_500_000)
        let rss0 = shim.rssKB
        _ = FileManager.default.createFile(atPath: rootfs + go, contents: nil)
        let began = Clock.monotonicNanos()
        var peak = rss0, execs = 0, finished = false, slowestState = 0.0
        let deadline = lab.scaled(60.0, 300.0)
        while seconds(since: began) < deadline {
            peak = max(peak, shim.rssKB)
            let t = Clock.monotonicNanos()
            let s: Ocishim_V1_StateResponse? = try? shim.client.call("State", Ocishim_V1_StateRequest(), timeoutSeconds: 10)
            slowestState = max(slowestState, seconds(since: t))
            if s?.status == .stopped { finished = true; break }
            if execs < 40 {
                // Events for the subscribers that do not read.
                let _: Ocishim_V1_ExecSyncResponse? = try? shim.client.call("ExecSync", Ocishim_V1_ExecSyncRequest.with { $0.exec.args = ["true"] })
                execs += 1
            } else {
                usleep(100_000)
            }
        }
        let took = seconds(since: began)
        peak = max(peak, shim.rssKB)

        // What the slow clients were sent: attach streams end with RESOURCE_EXHAUSTED.
        var exhausted = 0, attachBytes = 0
        // With the container gone and the slow clients still there, the shim
        // has nothing to do: it must not spin.
        let cpu0 = ProcInfo.cpuSeconds(shim.pid) ?? 0
        usleep(1_000_000)
        let idleCPU = (ProcInfo.cpuSeconds(shim.pid) ?? 0) - cpu0
        var endings: [String: Int] = [:]
        for c in slow.prefix(attachClients) {
            var ending = "no answer within 1 s"
            var frames = 0
            do {
                while let frame = try c.connection.receive(timeoutMillis: 1000) {
                    if frame.type == .response {
                        let code = (try? Ttrpc_Response(serializedBytes: frame.payload))?.status.code ?? -1
                        ending = RPCCode(rawValue: code)?.name ?? "code \(code)"
                        if code == RPCCode.resourceExhausted.rawValue { exhausted += 1 }
                        break
                    }
                    if frame.type == .data, let m = try? Ocishim_V1_AttachOutput(serializedBytes: frame.payload), m.exited {
                        ending = "exited"
                    }
                    attachBytes += frame.payload.count
                    frames += 1
                }
                if ending == "no answer within 1 s" { ending = "EOF" }
            } catch {
                ending = "\(error) after \(frames) whole frames"
            }
            endings[ending, default: 0] += 1
        }
        for c in slow { c.close() }
        let rssAfter = shim.rssAfterIdleRelease(atMost: rss0 + 4096)
        let log = K8sLog(path: shim.stateDir + "/ctr.log")
        let logged = log.lines().filter { $0 == text }.count
        let allowance = attachClients * 9 * 1024 + eventConnections * 2 * 1024 + 16 * 1024

        report.tried("\(attachClients) attach clients and \(eventConnections) connections with \(streamsPerConnection) Events streams each, none reading, while the container printed \(lines) 100-byte lines (\(lines / 10_000) MB) and \(execs) exec sessions made events")
        report.found("the container \(finished ? "finished in \(String(format: "%.1f", took)) s" : "had not finished after \(Int(deadline)) s"); \(logged) of \(lines) lines in the log; slowest State \(String(format: "%.2f", slowestState)) s; shim RSS \(formatKB(rss0)) before, \(formatKB(peak)) at most, \(formatKB(rssAfter)) after the clients left; attach streams read back afterwards: \(attachBytes / 1024) KiB, ended by \(endings.map { "\($0.key) (\($0.value))" }.joined(separator: ", "))")
        report.expect(finished && logged == lines, "the container was not held up: it printed everything and exited, all of it in the log")
        report.expect(peak <= rss0 + allowance, "memory bounded: at most \(formatKB(allowance)) above the start (9 MiB per attach stream, 2 MiB per event connection, 16 MiB slack)")
        report.expect(idleCPU < 0.3, "the shim does not spin while unread output waits for slow clients (\(String(format: "%.2f", idleCPU)) s of CPU in 1 s)")
        report.expect(exhausted == attachClients, "a slow attach client that starts reading gets what was queued for it, then the RESOURCE_EXHAUSTED that ended its attach (docs/PROTOCOL.md)")
        report.expect(rssAfter <= rss0 + 4096, "memory given back once the slow clients left (\(formatKB(rssAfter)) vs \(formatKB(rss0)))")
        report.expect(shim.isAlive, "the shim is alive")
        try pausedReader(lab, report)
    }

    /// A socket attach client that stops reading for a while, well within
    /// the 8 MiB allowance, then reads again: it must get all the output.
    static func pausedReader(_ lab: Lab, _ report: Report) throws {
        let id = lab.uniqueID("pause")
        let go = "/go-\(id)"
        let lines = 20_000
        let text = String(repeating: "p", count: 49)
        let bundle = try lab.bundle(["sh", "-c", "while [ ! -e \(go) ]; do usleep 20000; done; yes \(text) | head -n \(lines); sleep 1000000"])
        let rootfs = lab.rootfs(ofBundle: bundle)
        defer { unlink(rootfs + go) }
        let shim = try ShimUnderTest(lab, tag: "pause", id: id)
        defer { shim.destroy() }
        try shim.run(bundle: bundle)
        let client = try shim.connect()
        defer { client.close() }
        let stream = try client.openStream("Attach", Ocishim_V1_AttachInput.with { $0.options.stdout = true })
        // The shim handles a connection's requests in order: once State on
        // the same connection has answered, the attach is in place and sees
        // the output from its first byte (without this, a loaded machine
        // let the container print before the attach existed, and the check
        // counted output that was never meant for the client as lost).
        _ = try client.call("State", Ocishim_V1_StateRequest(), as: Ocishim_V1_StateResponse.self, timeoutSeconds: 10)
        _ = FileManager.default.createFile(atPath: rootfs + go, contents: nil)
        usleep(1_500_000)
        var received = 0
        let expected = lines * (text.count + 1)
        var ending = "all of it"
        while received < expected {
            do {
                // Generous: the check is whether everything arrives, not how
                // fast (on a loaded machine the container may take seconds
                // to start printing after the go file appears).
                guard let message = try stream.next(Ocishim_V1_AttachOutput.self, timeoutSeconds: 15) else { ending = "the stream ended"; break }
                received += message.data.count
            } catch {
                ending = "\(error)"
                break
            }
        }
        report.tried("a socket attach client that did not read for 1.5 s while the container printed \(expected / 1024) KiB, then read")
        report.found("it got \(received / 1024) KiB: \(ending)")
        report.expect(received == expected, "a client that pauses within the 8 MiB allowance gets all the output once it reads again")
    }
}
