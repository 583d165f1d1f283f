import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a signal to containers (default TERM).",
        discussion: """
            `ocictl kill [-s SIGNAL] ID...`; runc's form `ocictl kill ID SIGNAL` works too. \
            Signals by name (TERM, SIGTERM, kill) or number. If a shim is gone, the signal goes \
            through the runtime.
            """)
    @OptionGroup var address: ShimAddress
    @Option(name: [.customShort("s"), .customLong("signal")], help: "The signal (default TERM).") var signal: String?
    @Flag(name: [.short, .long], help: "Signal every process of the container.") var all = false
    @Option(name: .customLong("exec-id"), help: "Signal this exec session's process instead of the container.")
    var execID: String?
    @Argument(help: "The container ids (and, runc's way, a signal last).") var arguments: [String]

    func validate() throws {
        guard !arguments.isEmpty else { throw ValidationError("give at least one container id") }
        if let signal { _ = try SignalName.parse(signal) }
    }

    /// runc's `kill ID SIGNAL`: a last word that is a signal and not a
    /// container is the signal.
    func targets() throws -> (ids: [String], signal: UInt32) {
        if let signal { return (arguments, try SignalName.parse(signal)) }
        if arguments.count >= 2, let last = arguments.last, let number = try? SignalName.parse(last),
           !FileSystem.isDirectory(address.stateDir(last)) {
            return (Array(arguments.dropLast()), number)
        }
        return (arguments, UInt32(SIGTERM))
    }

    func run() throws {
        let (ids, number) = try targets()
        try EachContainer.run(ids, "kill") { id in
            switch try address.reach(id) {
            case .live(let client):
                defer { client.close() }
                let _: Ocishim_V1_KillResponse = try client.call("Kill", Ocishim_V1_KillRequest.with {
                    $0.signal = number
                    $0.all = all
                    $0.execID = execID ?? ""
                })
            case .gone(let orphan):
                if execID != nil { throw CLIError("the shim of \(id) is gone, and with it its exec sessions") }
                try orphan.kill(signal: number, all: all)
            }
        }
    }
}
