import ArgumentParser
import ShimClient
import ShimCore
import ShimProtocol

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a container's state as its shim knows it.",
        discussion: """
            If the shim is gone, says so and shows what the runtime knows. --json prints the \
            state shaped like `runc state` (ociVersion, id, pid, status, bundle, rootfs, created, \
            owner, annotations), then ocishim's fields (startedAt, finishedAt, exitCode, oomKilled, \
            checkpointed, terminal, execIds, logError, logBytesDropped, shim, shimPid, source); \
            every field is always there.
            """)
    @OptionGroup var address: ShimAddress
    @Flag(help: "Print the state as JSON (same as --format json).") var json = false
    @OptionGroup var format: FormatOption
    @Flag(help: "Ask the runtime instead of the monitor.") var refresh = false
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let view: StateView
        switch try address.reach(id) {
        case .live(let client):
            defer { client.close() }
            let state: Ocishim_V1_StateResponse = try client.call("State", Ocishim_V1_StateRequest.with { $0.refresh = refresh })
            view = StateView(state, shimPid: ShimStateFile.read(stateDir: address.stateDir(id))?.shimPid ?? 0)
        case .gone(let orphan):
            view = StateView(orphan: orphan, now: try orphan.currentStatus())
        }
        print(json || format.isJSON ? view.json.pretty : view.text)
    }
}
