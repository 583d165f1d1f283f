import ArgumentParser
import Glibc
import ShimClient
import ShimCore
import ShimProtocol
import ShimSystem

/// create + start + output + wait, like `runc run`: exits with the
/// container's code.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and start a container, print its output, exit with its code.")
    @OptionGroup var address: ShimAddress
    @OptionGroup var options: ContainerCreateOptions
    @Flag(name: .customLong("rm"), help: "Delete the container after it exits.") var remove = false
    @Argument var id: String

    func run() throws {
        let (client, _) = try options.create(id: id, address: address)
        client.timeoutSeconds = -1
        let _: Ocishim_V1_StartResponse = try client.call("Start", Ocishim_V1_StartRequest())
        var output = LogFollower(path: ShimStateFile.read(stateDir: address.stateDir(id))?.logPath
            ?? FileSystem.join(address.stateDir(id), "ctr.log"))
        var exitCode: Int32 = 0
        output.follow {
            let s: Ocishim_V1_StateResponse? = try? client.call("State", Ocishim_V1_StateRequest(), timeoutSeconds: 5)
            guard let s, s.status == .stopped else { return s == nil }
            exitCode = s.exitCode
            return true
        }
        if remove {
            let _: Ocishim_V1_DeleteResponse = try client.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
            waitForRemoval(address.stateDir(id))
        }
        client.close()
        throw ExitCode(exitCode)
    }
}
