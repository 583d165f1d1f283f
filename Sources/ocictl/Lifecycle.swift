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
