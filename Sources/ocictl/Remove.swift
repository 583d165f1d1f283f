import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete containers; their shims exit.",
        discussion: """
            If the shim is gone, the container is deleted through the runtime and its state \
            directory removed (a container the runtime still runs only with --force). With \
            --force, whatever a create that was interrupted left is removed too.
            """,
        aliases: ["delete"])
    @OptionGroup var address: ShimAddress
    @Flag(name: [.short, .long], help: "Delete even if it runs (it is killed).") var force = false
    @Argument(help: "The container ids.") var ids: [String]

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("give at least one container id") }
    }

    func run() throws {
        try EachContainer.run(ids, "rm") { id in try remove(id) }
    }

    private func remove(_ id: String) throws {
        // A shim that answers but holds no container yet is still creating
        // it (its engine may have gone mid-create): ask again once the
        // create has ended, or once the shim has gone without one.
        let deadline = Clock.monotonicNanos() + 60_000_000_000
        while true {
            switch try address.reach(id) {
            case .gone(let orphan):
                return try orphan.remove(force: force)
            case .live(let client):
                let deleted = Result { () throws(ClientError) -> Ocishim_V1_DeleteResponse in
                    try client.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = force })
                }
                if case .success = deleted {
                    client.close()
                    // The shim removes its files and its state dir as it exits.
                    return waitForRemoval(address.stateDir(id))
                }
                let state = try? client.call("State", Ocishim_V1_StateRequest(), as: Ocishim_V1_StateResponse.self)
                client.close()
                guard state?.status == Ocishim_V1_ContainerStatus.none, Clock.monotonicNanos() < deadline else {
                    _ = try deleted.get()
                    return
                }
            }
            usleep(100_000)
        }
    }
}
