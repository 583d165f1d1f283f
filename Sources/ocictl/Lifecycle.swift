import ArgumentParser
import Glibc
import ShimClient
import ShimCore
import ShimProtocol
import ShimSystem

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a container: spawn its shim and run the runtime's create; print its pid.")
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
    @Argument(help: "The container id.") var id: String
    func run() throws {
        let _: Ocishim_V1_StartResponse = try address.connect(id).call("Start", Ocishim_V1_StartRequest())
    }
}

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

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop a container: TERM, then KILL after the timeout; print its exit code.")
    @OptionGroup var address: ShimAddress
    @Option(name: [.short, .long], help: "Seconds before SIGKILL (0: at once).") var time: UInt32 = 10
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let client = try address.connect(id)
        client.timeoutSeconds = Double(time) + 60
        let stopped: Ocishim_V1_StopResponse = try client.call("Stop", Ocishim_V1_StopRequest.with { $0.timeoutSeconds = time })
        print(stopped.exitCode)
    }
}

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

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wait for a container to exit; print its exit code.")
    @OptionGroup var address: ShimAddress
    @Argument(help: "The container id.") var id: String

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
    @Argument(help: "The container id.") var id: String
    func run() throws {
        let _: Ocishim_V1_PauseResponse = try address.connect(id).call("Pause", Ocishim_V1_PauseRequest())
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume a paused container.", aliases: ["unpause"])
    @OptionGroup var address: ShimAddress
    @Argument(help: "The container id.") var id: String
    func run() throws {
        let _: Ocishim_V1_ResumeResponse = try address.connect(id).call("Resume", Ocishim_V1_ResumeRequest())
    }
}

/// A command applied to several containers (kill, rm): each is tried; a
/// failure is reported with its id and the others still go on. One id
/// fails as a command on one container does.
enum EachContainer {
    static func run(_ ids: [String], _ command: String, _ body: (String) throws -> Void) throws {
        guard ids.count > 1 else { return try body(ids[0]) }
        var worst: Int32 = 0
        for id in ids {
            do { try body(id) } catch let exit as ExitCode {
                worst = max(worst, exit.rawValue)
            } catch {
                let failure = Failure(error)
                writeErr("ocictl: \(command) \(id): \(failure.message)\n")
                worst = max(worst, failure.exitCode)
            }
        }
        if worst != 0 { throw ExitCode(worst) }
    }
}

/// `--format text|json` for the commands that print records.
struct FormatOption: ParsableArguments {
    @Option(help: ArgumentHelp("Output format: text or json.", valueName: "format"))
    var format: String = "text"

    var isJSON: Bool { format == "json" }

    func validate() throws {
        guard ["text", "json"].contains(format) else {
            throw ValidationError("unknown --format \"\(format)\": use text or json")
        }
    }
}
