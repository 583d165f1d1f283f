import Foundation
import Glibc
import ShimSystem
import ShimClient
import ShimProtocol
import SwiftProtobuf

/// Every numeric field of every request at its extremes, and ttrpc's
/// Request.timeout_nano at its extremes on every method. The fields come
/// from proto/ocishim/v1/shim.proto (parsed here, so a new field is fuzzed
/// without editing the suite); each value is written on the wire by hand
/// on top of a minimal valid request of the method. Create goes to a fresh
/// shim each time; the other methods to a shim with a running container
/// (with a terminal, and a terminal exec session, so that resizes reach the
/// ioctl), recreated when a call ends it.
///
/// Must hold: the shim never dies unless asked to (Delete, Shutdown), never
/// hangs (it answers State while any call waits), honours every deadline up
/// to 20 s, and every answer is OK or an error with a message.
enum NumericFields {
    struct Call {
        let method: String
        let kind: MethodKind
        let field: String
        let value: String
        let payload: [UInt8]
        var follow: [UInt8]?
        var timeoutNanos: Int64 = 0
        var described: String { "\(method) \(field)=\(value)\(follow == nil ? "" : " (in a data frame after the request)")" }
    }

    static func run(_ lab: Lab, _ report: Report) throws {
        let schema = try ProtoSchema(parsing: String(contentsOfFile: lab.protoFile, encoding: .utf8))
        let catalogue = Dictionary(uniqueKeysWithValues: ShimService.methods.map { ($0.name, $0.kind) })
        report.expect(Set(schema.rpcs.map(\.name)) == Set(catalogue.keys),
                      "the parsed shim.proto has the \(catalogue.count) rpcs of the method catalogue (parsed \(schema.rpcs.count))")
        let liveBundle = try lab.bundle(["sleep", "1000000"], terminal: true)
        let createBundle = try lab.bundle(["sleep", "1000000"])
        let scratch = try lab.directory("numeric")
        var target = try LiveTarget(lab, bundle: liveBundle)
        defer { target.shim.destroy() }
        var bases = NumericBases(lab: lab, scratch: scratch, createBundle: createBundle)
        let bound = lab.scaled(1.5, 5.0)

        var calls = 0, fields = 0, freshShims = 0, recreated = 0
        var tally: [String: Int] = [:]
        var problems: [String: [String]] = [:]   // what went wrong -> calls
        var pending: [String] = []
        let began = Clock.monotonicNanos()

        func record(_ call: Call, _ outcome: CallOutcome, shim: ShimUnderTest, expectEnd: Bool) {
            calls += 1
            var problem: String?
            switch outcome {
            case .answered(let code, let message):
                tally[code == 0 ? "OK" : (RPCCode(rawValue: code)?.name ?? "code \(code)"), default: 0] += 1
                if code != 0 && message.isEmpty { problem = "an error without a message (code \(code))" }
                if code < 0 || RPCCode(rawValue: code) == nil { problem = "an answer with an unknown status code \(code)" }
                if !shim.isAlive && (shim.crashed || !(expectEnd && code == 0)) {
                    problem = "the shim died after answering: \(shim.crashSummary)"
                }
            case .streaming:
                tally["stream open", default: 0] += 1
            case .pending:
                tally["waiting (by design)", default: 0] += 1
                if call.timeoutNanos > 0 && call.timeoutNanos <= 20_000_000_000 {
                    problem = "no DEADLINE_EXCEEDED within \(bound) s after a \(call.timeoutNanos) ns deadline"
                } else {
                    pending.append(call.described)
                }
            case .hung(let where_):
                tally["hung", default: 0] += 1
                problem = "the shim hung (\(where_))"
            case .closed:
                tally["closed", default: 0] += 1
                problem = "the connection closed without an answer"
            case .died:
                tally["died", default: 0] += 1
                problem = "the shim died: \(shim.crashSummary)"
            }
            if let problem {
                problems[problem, default: []].append(call.described)
            }
        }

        var costs: [(String, Double)] = []
        for rpc in schema.rpcs {
            guard let kind = catalogue[rpc.name] else { continue }
            let rpcBegan = Clock.monotonicNanos()
            defer { costs.append((rpc.name, seconds(since: rpcBegan))) }
            var plan: [Call] = []
            let paths = schema.numericPaths(of: rpc.request)
            fields += paths.count
            for path in paths {
                for value in NumericValues.values(for: path.kind) where !(lab.quick && value.ordinary) {
                    let payload = bases.encode(path, value)
                    let base = { (b: inout NumericBases) in b.payload(for: rpc.name, live: target) }
                    plan.append(Call(method: rpc.name, kind: kind, field: path.dotted, value: value.label,
                                     payload: base(&bases) + payload))
                    if kind == .bidirectional && (!lab.quick || value.label.hasPrefix("-1")) {
                        // The same field in a later message of the stream.
                        plan.append(Call(method: rpc.name, kind: kind, field: path.dotted, value: value.label,
                                         payload: base(&bases), follow: payload))
                    }
                }
            }
            for timeout in NumericValues.timeouts where !(lab.quick && timeout.ordinary) {
                var call = Call(method: rpc.name, kind: kind, field: "ttrpc timeout_nano", value: timeout.label,
                                payload: bases.payload(for: rpc.name, live: target))
                call.timeoutNanos = timeout.nanos
                plan.append(call)
            }

            for var call in plan {
                if rpc.name == "Create" {
                    // A fresh shim without a container for every Create.
                    freshShims += 1
                    let shim = try ShimUnderTest(lab, tag: "fz-create")
                    call = Call(method: call.method, kind: call.kind, field: call.field, value: call.value,
                                payload: bases.createBase(id: shim.id) + call.payload.dropFirst(bases.createPlaceholder.count),
                                follow: call.follow, timeoutNanos: call.timeoutNanos)
                    let outcome = FuzzCall.call(shim, method: call.method, kind: call.kind, payload: call.payload,
                                                timeoutNanos: call.timeoutNanos, follow: call.follow, bound: bound + 5)
                    record(call, outcome, shim: shim, expectEnd: false)
                    shim.destroy()
                    continue
                }
                // Per-call context (a fresh exec session for ExecStop...).
                let payload = bases.refresh(call.payload, for: call.method, live: target)
                let outcome = FuzzCall.call(target.shim, method: call.method, kind: call.kind, payload: payload,
                                            timeoutNanos: call.timeoutNanos, follow: call.follow, bound: bound)
                record(call, outcome, shim: target.shim, expectEnd: ["Delete", "Shutdown"].contains(call.method))
                if !target.healthy() {
                    recreated += 1
                    target.shim.destroy()
                    target = try LiveTarget(lab, bundle: liveBundle)
                }
            }
        }

        report.tried("\(calls) calls in \(String(format: "%.0f", seconds(since: began))) s: \(schema.rpcs.count) rpcs, \(fields) numeric fields of their requests (nested messages included) at \(lab.quick ? "their extremes" : "0, 1 and their extremes") (max, min, -1, past the type's range), each field also in Attach's later messages\(lab.quick ? " (at -1)" : ""); timeout_nano at \(NumericValues.timeouts.filter { !(lab.quick && $0.ordinary) }.map(\.label).joined(separator: ", ")) on every rpc; \(freshShims) fresh shims for Create; the live container recreated \(recreated) times")
        report.found("slowest rpcs: " + costs.sorted { $0.1 > $1.1 }.prefix(6).map { "\($0.0) \(String(format: "%.1f", $0.1)) s" }.joined(separator: ", "))
        report.found("answers: " + tally.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if !pending.isEmpty {
            report.found("waiting by design when the wait ended (no deadline; the shim answered State meanwhile): \(pending.count): \(pending.prefix(8).joined(separator: "; "))\(pending.count > 8 ? "; ..." : "")")
        }
        for (problem, which) in problems.sorted(by: { $0.value.count > $1.value.count }) {
            report.fail("\(problem) -- \(which.count) call(s): \(which.prefix(10).joined(separator: "; "))\(which.count > 10 ? "; ..." : "")")
        }
        report.expect(problems.isEmpty, "the shim never died unasked, never hung, honoured every deadline, and answered OK or an error with a message")
    }

    /// The shim with a running terminal container and a terminal exec session.
    struct LiveTarget {
        let shim: ShimUnderTest
        var ttySession: String

        init(_ lab: Lab, bundle: String) throws {
            shim = try ShimUnderTest(lab, tag: "fz-live")
            try shim.run(bundle: bundle) { $0.terminal = true }
            ttySession = "fz-tty"
            try startTTYSession()
        }

        func startTTYSession() throws {
            let _: Ocishim_V1_ExecResponse = try shim.client.call("Exec", Ocishim_V1_ExecRequest.with {
                $0.execID = ttySession
                $0.args = ["sleep", "1000000"]
                $0.terminal = true
            })
        }

        /// The container runs (a paused one is resumed) and so does the
        /// terminal session; false when the target must be made again.
        mutating func healthy() -> Bool {
            guard shim.isAlive, case .success(let state) = shim.state(within: 3) else { return false }
            if state.status == .paused {
                let _: Ocishim_V1_ResumeResponse? = try? shim.client.call("Resume", Ocishim_V1_ResumeRequest())
            } else if state.status != .running {
                return false
            }
            let session: Ocishim_V1_ExecStateResponse? = try? shim.client.call("ExecState", Ocishim_V1_ExecStateRequest.with { $0.execID = ttySession })
            if session?.running != true {
                ttySession = "fz-tty-\(Int.random(in: 0..<1_000_000))"
                if (try? startTTYSession()) == nil { return false }
            }
            return true
        }
    }
}
