import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// Spawns a throwaway shim and prints what it says about itself.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Spawn a shim, print its Hello and RuntimeInfo, shut it down.")

    @Option(help: "The ocishim binary.")
    var shim: String?

    @Option(help: "OCI runtime name or path.")
    var runtime = "runc"

    func run() throws {
        let stateDir = try TemporaryDirectory.make(prefix: "ocictl-version")
        defer { try? FileSystem.removeTree(stateDir) }
        let client = try ShimClient.spawn(
            shim: ShimLocation.resolve(shim),
            arguments: ["--id", "ocictl-version-\(getpid())", "--state-dir", stateDir, "--runtime", runtime])
        defer { client.close() }
        let hello = try client.call("Hello", Ocishim_V1_HelloRequest.with { $0.client = "ocictl" }, as: Ocishim_V1_HelloResponse.self)
        print("shim:      ocishim \(hello.shimVersion) (pid \(hello.shimPid), protocol \(hello.protocolVersion), \(hello.framing))")
        let info = try client.call("RuntimeInfo", Ocishim_V1_RuntimeInfoRequest(), as: Ocishim_V1_RuntimeInfoResponse.self)
        print("runtime:   \(info.runtime.name) at \(info.runtime.path)")
        print("           package \(info.runtime.package)")
        for line in info.runtime.version.split(separator: "\n") { print("           \(line)") }
        print("shim path: \(info.shim.path) (package \(info.shim.package))")
        _ = try client.call("Shutdown", Ocishim_V1_ShutdownRequest.with { $0.force = true }, as: Ocishim_V1_ShutdownResponse.self)
    }
}
