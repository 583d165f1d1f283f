import Foundation
import Glibc
import ShimSystem
import ShimClient
import ShimProtocol
import SwiftProtobuf

/// Requests whose ttrpc deadline passes while their work runs: Create,
/// Start, ExecSync. The answer must be DEADLINE_EXCEEDED (or OK) in time,
/// and whatever the work did afterwards, the shim's view and the runtime's
/// must agree and nothing may be left behind (issue "Trust defects" item 9:
/// a deadline is either cancellation or documented; the suite reports which
/// it was).
enum Deadlines {
    static func run(_ lab: Lab, _ report: Report) throws {
        let bundle = try lab.bundle(["sleep", "1000000"])

        // Create with a 1 ms deadline.
        let shim = try ShimUnderTest(lab, tag: "deadline")
        defer { shim.destroy() }
        let create = timed(shim, "Create", shim.createRequest(bundle: bundle), deadline: 0.001)
        usleep(lab.quick ? 1_500_000 : 3_000_000)
        let state: Ocishim_V1_StateResponse? = try? shim.client.call("State", Ocishim_V1_StateRequest())
        let runtime = lab.runtimeStatus(shim.id)
        report.tried("Create with timeout_nano 1 ms, then State and `runc state` \(lab.quick ? 1.5 : 3) s later")
        report.found("Create: \(create.outcome.summary) after \(String(format: "%.3f", create.seconds)) s; then the shim says \(state.map { "\($0.status)" } ?? "nothing"), the runtime says \(runtime ?? "no such container") -- the create \(runtime == nil ? "was cancelled" : "took effect")")
        report.expect(create.seconds < 2.0, "the answer came within 2 s of the deadline")
        let shimHasIt = state.map { [.created, .running, .stopped, .paused].contains($0.status) } ?? false
        report.expect(shimHasIt == (runtime != nil), "the shim and the runtime agree on whether the container exists")

        // Start with a 1 ns deadline on the created container.
        if state?.status == .created {
            let start = timed(shim, "Start", Ocishim_V1_StartRequest(), deadline: 1e-9)
            usleep(lab.quick ? 1_000_000 : 2_000_000)
            let s: Ocishim_V1_StateResponse? = try? shim.client.call("State", Ocishim_V1_StateRequest())
            let r = lab.runtimeStatus(shim.id)
            report.tried("Start with timeout_nano 1 ns")
            report.found("Start: \(start.outcome.summary); then the shim says \(s.map { "\($0.status)" } ?? "nothing"), the runtime says \(r ?? "no such container")")
            report.expect(statusMatches(s?.status, r), "the shim and the runtime agree on the container's status")
        }

        // ExecSync with a 200 ms deadline on a 2 s command.
        if (try? shim.client.call("State", Ocishim_V1_StateRequest(), as: Ocishim_V1_StateResponse.self))?.status != .running {
            _ = try? shim.start()
        }
        let exec = timed(shim, "ExecSync", Ocishim_V1_ExecSyncRequest.with { $0.exec.args = ["sleep", "2"] }, deadline: 0.2)
        usleep(lab.quick ? 1_500_000 : 3_000_000)
        let after: Ocishim_V1_StateResponse? = try? shim.client.call("State", Ocishim_V1_StateRequest())
        report.tried("ExecSync of `sleep 2` with timeout_nano 200 ms, then State \(lab.quick ? 1.5 : 3) s later")
        report.found("ExecSync: \(exec.outcome.summary) after \(String(format: "%.3f", exec.seconds)) s; sessions left: \(after?.execIds.count ?? -1); zombie children of the shim: \(shim.zombies.count)")
        report.expect(exec.seconds < 1.5, "the answer came within about a second of the deadline")
        report.expect(after?.execIds.isEmpty == true && shim.zombies.isEmpty, "no session or zombie is left behind")
        report.expect(shim.isAlive, "the shim is alive")
    }

    static func statusMatches(_ shim: Ocishim_V1_ContainerStatus?, _ runtime: String?) -> Bool {
        switch (shim, runtime) {
        case (.created?, "created"?), (.running?, "running"?), (.paused?, "paused"?), (.stopped?, "stopped"?): true
        case (.stopped?, nil), (.none?, nil), (nil, nil): true
        default: false
        }
    }

    static func timed<M: SwiftProtobuf.Message>(_ shim: ShimUnderTest, _ method: String, _ request: M, deadline: Double) -> (outcome: CallOutcome, seconds: Double) {
        let began = Clock.monotonicNanos()
        let outcome = FuzzCall.call(shim, method: method, kind: .unary, payload: (try? request.serializedBytes()) ?? [],
                                    timeoutNanos: max(1, Int64(deadline * 1e9)), bound: deadline + 5)
        return (outcome, seconds(since: began))
    }
}
