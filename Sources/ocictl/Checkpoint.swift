import ArgumentParser
import ShimClient
import ShimProtocol
import ShimSystem

struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checkpoint a running container with CRIU (runc checkpoint); print its status after.",
        discussion: """
            Without --leave-running the container stops: its exit is recorded as a checkpoint's \
            (`ocictl state` shows it). Remove it (`ocictl rm ID`) before `ocictl restore ID`. \
            `ocictl checkpoint --supported` tells whether the runtime and CRIU can checkpoint here.
            """)
    @OptionGroup var address: ShimAddress
    @Option(name: .customLong("image-path"), help: "Directory for CRIU's images (the runtime creates it).")
    var imagePath: String?
    @Option(name: .customLong("work-path"), help: "Directory for CRIU's logs (default: the bundle).")
    var workPath: String?
    @Flag(name: .customLong("leave-running"), help: "Keep the container running after the checkpoint.")
    var leaveRunning = false
    @Flag(name: .customLong("tcp-established"), help: "Checkpoint established TCP connections.")
    var tcpEstablished = false
    @Flag(name: .customLong("file-locks"), help: "Checkpoint file locks.")
    var fileLocks = false
    @Flag(help: "Only print whether the container's shim can checkpoint (runtime and CRIU), with the reason if not.")
    var supported = false
    @Argument(help: "The container id.") var id: String

    func validate() throws {
        if !supported && imagePath == nil { throw ValidationError("missing --image-path") }
    }

    func run() throws {
        let client = try address.connect(id)
        defer { client.close() }
        if supported { return try printSupport(client) }
        // The shim's runtime deadline bounds the checkpoint; wait as long.
        let response: Ocishim_V1_CheckpointResponse = try client.call("Checkpoint", Ocishim_V1_CheckpointRequest.with {
            $0.imagePath = FileSystem.absolute(imagePath ?? "")
            $0.workPath = workPath.map { FileSystem.absolute($0) } ?? ""
            $0.leaveRunning = leaveRunning
            $0.tcpEstablished = tcpEstablished
            $0.fileLocks = fileLocks
        }, timeoutSeconds: -1)
        print(StatusName.of(response.status))
    }

    private func printSupport(_ client: ShimClient) throws {
        let support: Ocishim_V1_SupportsCheckpointResponse = try client.call("SupportsCheckpoint", Ocishim_V1_SupportsCheckpointRequest())
        print("runtime: \(support.runtimeSupports ? "supports checkpoint" : "has no checkpoint command")")
        print("criu:    \(support.criuWorks ? "works" : "does not work: \(support.criuReason)")")
        if !(support.runtimeSupports && support.criuWorks) { throw ExitCode(1) }
    }
}
