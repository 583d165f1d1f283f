import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// Mutated, random, truncated and oversized frames on the engine's stdio and
/// on `<state-dir>/shim.sock`, against a shim with a running container.
/// Afterwards the shim must be alive, answer Hello and State, the container
/// must still run, and the shim's fds and memory must be back where they
/// were.
enum FrameFuzz {
    static func run(_ lab: Lab, _ report: Report) throws {
        let bundle = try lab.bundle(["sleep", "1000000"])
        let shim = try ShimUnderTest(lab, tag: "frames")
        try shim.run(bundle: bundle)
        let initPid = (try? shim.client.call("State", Ocishim_V1_StateRequest(), as: Ocishim_V1_StateResponse.self))?.pid ?? 0
        usleep(1_500_000)  // the idle shim gives memory back after a quiet second
        let fds0 = shim.fdCount, rss0 = shim.rssKB
        var generator = FrameGenerator(random: lab.random, execID: "no-such-exec")
        lab.random = SeededRandom(seed: lab.random.next())

        // --- stdio: frames that keep the decoder in step, a probe every 100 ---
        let stdioInputs = lab.scaled(1500, 20000)
        let connection = shim.client.connection
        var sent = 0, probes = 0, probesAnswered = 0, answers = 0
        var codes: [String: Int] = [:]
        var lastInputs: [[UInt8]] = []
        var stdioProblem: String?
        let hello = (try? Ocishim_V1_HelloRequest().serializedBytes()) ?? []
        func probe(on connection: FrameConnection) -> Bool {
            probes += 1
            let id = generator.streamID()
            var request = Ttrpc_Request()
            request.service = ShimService.name
            request.method = "Hello"
            request.payload = .init(hello)
            let payload = (try? request.serializedBytes()) ?? []
            do {
                try connection.sendRaw(Wire.frameHeader(length: UInt32(payload.count), streamID: id, type: 1, flags: 0) + payload)
                let deadline = Clock.monotonicNanos() + 5_000_000_000
                while Clock.monotonicNanos() < deadline {
                    guard let frame = try connection.receive(timeoutMillis: 5000) else { return false }
                    if frame.type == .response {
                        answers += 1
                        let status = (try? Ttrpc_Response(serializedBytes: frame.payload))?.status
                        let name = status.map { RPCCode(rawValue: $0.code)?.name ?? "code \($0.code)" } ?? "undecodable"
                        codes[name, default: 0] += 1
                    }
                    if frame.streamID == id { probesAnswered += 1; return true }
                }
            } catch {
                stdioProblem = "\(error)"
            }
            return false
        }
        for i in 0..<stdioInputs {
            var input = generator.framedInput()
            if i == stdioInputs / 3 || i == 2 * stdioInputs / 3 {
                // Oversized (skipped by the shim without buffering it) and empty frames.
                let big = UInt32(FrameHeader.maxDataLength + 1)
                input = Wire.frameHeader(length: big, streamID: generator.streamID(), type: 1, flags: 0)
                    + [UInt8](repeating: 0, count: Int(big))
                    + Wire.frameHeader(length: 0, streamID: generator.streamID(), type: 1, flags: 0)
            }
            lastInputs = Array((lastInputs + [input]).suffix(3))
            do { try connection.sendRaw(input) } catch { stdioProblem = "writing frame \(i): \(error)"; break }
            sent += input.count
            if i % 100 == 99 && !probe(on: connection) {
                stdioProblem = stdioProblem ?? "no answer to the Hello probe after frame \(i)"
                break
            }
        }
        // The engine goes away in the middle of a frame.
        try? connection.sendRaw(Array(generator.seedFrame().prefix(7)))
        connection.closeWrite()
        report.tried("\(stdioInputs) frames (\(sent / 1024) KiB) on the engine's stdio: mutated payloads, stream ids/types/flags at extremes, random payloads, data frames, 2 oversized (4 MiB + 1) and empty frames; a Hello probe every 100; then EOF in the middle of a frame")
        report.found("\(probesAnswered)/\(probes) probes answered; \(answers) answers read: \(codes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        if let stdioProblem {
            report.fail("the engine's stdio connection broke: \(stdioProblem); shim: \(shim.describeEnd())\n\(hexDump(lastInputs))")
        }
        guard expectAlive(shim, report, after: "the stdio fuzz", lastInputs) else { return }

        // --- socket: anything, a connection per batch, closed after it ---------
        let connectionsToOpen = lab.scaled(60, 600)
        var socketInputs = 0, socketBytes = 0, socketProbes = 0, socketProbeFailures: [String] = []
        for c in 0..<connectionsToOpen {
            var batch: [[UInt8]] = []
            if c == 0 {
                // Every (stream id, type, flags) extreme with a valid Hello payload.
                for id in FrameGenerator.streamIDExtremes {
                    for type in FrameGenerator.typeExtremes {
                        for flags in FrameGenerator.flagExtremes {
                            var request = Ttrpc_Request()
                            request.service = ShimService.name
                            request.method = "Hello"
                            let p = (try? request.serializedBytes()) ?? []
                            batch.append(Wire.frameHeader(length: UInt32(p.count), streamID: id, type: type, flags: flags) + p)
                        }
                    }
                }
            } else if c <= FrameGenerator.lengthExtremes.count {
                // One length extreme per connection: the header, some bytes, EOF.
                let length = FrameGenerator.lengthExtremes[c - 1]
                batch.append(Wire.frameHeader(length: length, streamID: generator.streamID(), type: 1, flags: 0)
                             + generator.randomBytes(Int(min(length, 64 << 10))))
            } else {
                batch = (0..<Int.random(in: 10...60, using: &generator.random)).map { _ in generator.anyInput() }
            }
            lastInputs = Array(batch.suffix(3))
            guard let fd = try? UnixSocket.connect(path: shim.stateDir + "/shim.sock", type: Int32(SOCK_STREAM.rawValue)) else {
                report.fail("cannot connect to shim.sock for batch \(c): shim \(shim.describeEnd())")
                break
            }
            for input in batch {
                if (try? FileSystem.writeAll(fd: fd, input, what: "fuzz")) == nil { break }
                socketInputs += 1
                socketBytes += input.count
            }
            try? fd.close()
            if c % 10 == 9 || c <= FrameGenerator.lengthExtremes.count {
                socketProbes += 1
                if let problem = shim.answers(within: 5) { socketProbeFailures.append("after batch \(c): \(problem)") }
                guard expectAlive(shim, report, after: "socket batch \(c)", lastInputs) else { return }
            }
        }
        // Documented answers: an oversized frame is skipped and the connection goes on.
        let oversized = oversizedFrameAnswer(shim, &generator)
        report.tried("\(connectionsToOpen) socket connections, \(socketInputs) inputs (\(socketBytes / 1024) KiB): every (stream id, type, flags) extreme, every length extreme (0 ... 2^32-1), mutated/truncated/spliced frames, random bytes; each connection closed mid-stream; Hello+State probes on fresh connections (\(socketProbes))")
        report.expect(socketProbeFailures.isEmpty, "every probe answered" + (socketProbeFailures.isEmpty ? "" : ": \(socketProbeFailures.prefix(3))"))
        report.expect(oversized == nil, "a 4 MiB + 1 frame is answered RESOURCE_EXHAUSTED and the next request on that connection is served" + (oversized.map { ": \($0)" } ?? ""))

        // --- afterwards ----------------------------------------------------------------
        guard expectAlive(shim, report, after: "the socket fuzz", lastInputs) else { return }
        usleep(1_500_000)
        let state = shim.state(within: 5)
        report.expect(shim.answers(within: 5) == nil, "the shim answers Hello and State")
        if case .success(let s) = state {
            report.expect(s.status == .running && s.pid == initPid && ProcInfo.alive(initPid),
                          "the container still runs (status \(s.status), init pid \(s.pid), was \(initPid))")
        } else {
            report.fail("State failed: \(state)")
        }
        let fds1 = shim.fdCount, rss1 = shim.rssAfterIdleRelease(atMost: rss0 + 8 * 1024)
        report.found("shim fds \(fds0) -> \(fds1), RSS \(formatKB(rss0)) -> \(formatKB(rss1)) (after its idle release, at most 10 s)")
        report.expect(fds1 <= fds0 + 1, "fds bounded (at most one more than before: \(fds1) vs \(fds0))")
        report.expect(rss1 <= rss0 + 8 * 1024, "RSS bounded (at most 8 MiB above \(formatKB(rss0)))")
        shim.destroy()
    }

    /// A 4 MiB + 1 frame then a Hello on one connection: RESOURCE_EXHAUSTED
    /// on the first stream, an answer on the second. nil when so.
    static func oversizedFrameAnswer(_ shim: ShimUnderTest, _ generator: inout FrameGenerator) -> String? {
        guard let c = try? shim.connect(timeoutSeconds: 10) else { return "cannot connect" }
        defer { c.close() }
        let big = FrameHeader.maxDataLength + 1
        do {
            try c.connection.sendRaw(Wire.frameHeader(length: UInt32(big), streamID: 1, type: 1, flags: 0) + [UInt8](repeating: 0x5A, count: big))
            let first = try c.awaitResponse(streamID: 1, what: "the oversized frame", timeoutSeconds: 10)
            guard first.status.code == RPCCode.resourceExhausted.rawValue else { return "the oversized frame was answered with code \(first.status.code)" }
            _ = c.allocateStreamID()
            let _: Ocishim_V1_HelloResponse = try c.call("Hello", Ocishim_V1_HelloRequest())
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// FAILs (with the inputs that came last) when the shim has died.
    static func expectAlive(_ shim: ShimUnderTest, _ report: Report, after what: String, _ lastInputs: [[UInt8]]) -> Bool {
        if shim.isAlive { return true }
        report.fail("the shim died during \(what): \(shim.describeEnd())\nlast inputs:\n\(hexDump(lastInputs))")
        return false
    }

    static func hexDump(_ inputs: [[UInt8]]) -> String {
        inputs.map { input in
            let hex = input.prefix(96).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            return "  \(input.count) bytes: \(hex)\(input.count > 96 ? "..." : "")"
        }.joined(separator: "\n")
    }
}
