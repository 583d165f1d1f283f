import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a container: spawn its shim and run the runtime's create.")
    @OptionGroup var address: ShimAddress
    @OptionGroup var options: ContainerCreateOptions
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let (client, created) = try options.create(id: id, address: address)
        client.close()
        print(created.pid)
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a created container.")
    @OptionGroup var address: ShimAddress
    @Argument var id: String
    func run() throws {
        let _: Ocishim_V1_StartResponse = try address.connect(id).call("Start", Ocishim_V1_StartRequest())
    }
}

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a container's state as its shim knows it.",
        discussion: "If the shim is gone, says so and shows what the runtime knows.")
    @OptionGroup var address: ShimAddress
    @Flag(help: "Print the StateResponse as JSON.") var json = false
    @Flag(help: "Ask the runtime instead of the monitor.") var refresh = false
    @Argument var id: String

    func run() throws {
        let client: ShimClient
        switch try address.reach(id) {
        case .live(let live): client = live
        case .gone(let orphan): return try orphan.printState(json: json)
        }
        let state: Ocishim_V1_StateResponse = try client.call("State", Ocishim_V1_StateRequest.with { $0.refresh = refresh })
        if json {
            print(try state.jsonString())
            return
        }
        print("id:       \(state.id)")
        print("status:   \(StatusName.of(state.status))")
        print("pid:      \(state.pid)")
        if state.status == .stopped {
            print("exit:     \(state.exitCode)\(state.oomKilled ? " (OOM killed)" : "")\(state.checkpointed ? " (checkpointed)" : "")")
        }
        print("bundle:   \(state.bundle)")
        if !state.logError.isEmpty { print("log:      \(state.logError)") }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a signal to a container (default TERM).",
        discussion: "If the shim is gone, the signal goes through the runtime.")
    @OptionGroup var address: ShimAddress
    @Flag(help: "Signal every process of the container.") var all = false
    @Argument var id: String
    @Argument var signal = "TERM"

    func run() throws {
        let number = try SignalName.parse(signal)
        switch try address.reach(id) {
        case .live(let client):
            let _: Ocishim_V1_KillResponse = try client.call("Kill", Ocishim_V1_KillRequest.with {
                $0.signal = number
                $0.all = all
            })
        case .gone(let orphan):
            try orphan.kill(signal: number, all: all)
        }
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a container: TERM, then KILL after the timeout.")
    @OptionGroup var address: ShimAddress
    @Option(name: [.short, .long], help: "Seconds before SIGKILL (0: at once).") var time: UInt32 = 10
    @Argument var id: String

    func run() throws {
        let stopped: Ocishim_V1_StopResponse = try address.connect(id).call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = time })
        print(stopped.exitCode)
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete a container; its shim exits.",
        discussion: """
            If the shim is gone, the container is deleted through the runtime and its state \
            directory removed (a container the runtime still runs only with --force). With \
            --force, whatever a create that was interrupted left is removed too.
            """)
    @OptionGroup var address: ShimAddress
    @Flag(name: [.short, .long], help: "Delete even if it runs (it is killed).") var force = false
    @Argument var id: String

    func run() throws {
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

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wait for a container to exit; print its exit code.")
    @OptionGroup var address: ShimAddress
    @Argument var id: String

    func run() throws {
        let client = try address.connect(id)
        client.timeoutSeconds = -1
        let exit: Ocishim_V1_WaitResponse = try client.call("Wait", Ocishim_V1_WaitRequest(), timeoutSeconds: -1)
        print(exit.exitCode)
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pause a running container.")
    @OptionGroup var address: ShimAddress
    @Argument var id: String
    func run() throws {
        let _: Ocishim_V1_PauseResponse = try address.connect(id).call("Pause", Ocishim_V1_PauseRequest())
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume a paused container.")
    @OptionGroup var address: ShimAddress
    @Argument var id: String
    func run() throws {
        let _: Ocishim_V1_ResumeResponse = try address.connect(id).call("Resume", Ocishim_V1_ResumeRequest())
    }
}

enum StatusName {
    static func of(_ status: Ocishim_V1_ContainerStatus) -> String {
        switch status {
        case .none: "none"
        case .created: "created"
        case .running: "running"
        case .paused: "paused"
        case .stopped: "stopped"
        case .deleted: "deleted"
        default: "unknown"
        }
    }
}
