import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem
import ShimTranscript

/// Spawns a throwaway shim and prints what it says about itself.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Spawn a shim, print its Hello and RuntimeInfo, shut it down (ocictl's own: ocictl --version).")

    @Option(help: "The ocishim binary.")
    var shim: String?

    @Option(help: "OCI runtime name or path.")
    var runtime = "runc"

    @Option(help: "Record the session as a transcript in this file (docs/TRANSCRIPTS.md).")
    var record: String?

    func run() throws {
        let stateDir = try TemporaryDirectory.make(prefix: "ocictl-version")
        defer { try? FileSystem.removeTree(stateDir) }
        let (shimPath, id) = (ShimLocation.resolve(shim), "ocictl-version-\(getpid())")
        let client = try ShimClient.spawn(
            shim: shimPath, arguments: ["--id", id, "--state-dir", stateDir, "--runtime", runtime])
        defer { client.close() }
        let recorder = try record.map { try TranscriptRecorder(
            recordingTo: $0, shim: shimPath, id: id, stateDir: stateDir, serveArguments: ["--runtime", runtime]) }
        recorder?.attach(to: client.connection)
        let hello = try client.call("Hello", Ocishim_V1_HelloRequest.with { $0.client = "ocictl" }, as: Ocishim_V1_HelloResponse.self)
        print("shim:      ocishim \(hello.shimVersion) (pid \(hello.shimPid), protocol \(hello.protocolVersion), \(hello.framing))")
        let info = try client.call("RuntimeInfo", Ocishim_V1_RuntimeInfoRequest(), as: Ocishim_V1_RuntimeInfoResponse.self)
        print("runtime:   \(info.runtime.name) at \(info.runtime.path)")
        print("           package \(info.runtime.package)")
        for line in info.runtime.version.split(separator: "\n") { print("           \(line)") }
        print("shim path: \(info.shim.path) (package \(info.shim.package))")
        _ = try client.call("Shutdown", Ocishim_V1_ShutdownRequest.with { $0.force = true }, as: Ocishim_V1_ShutdownResponse.self)
        try recorder?.close()
    }
}
