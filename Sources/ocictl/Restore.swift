import ArgumentParser
import ShimClient
import ShimProtocol
import ShimSystem

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a container from a checkpoint: spawn its shim and run the runtime's restore; print its pid.",
        discussion: "The container runs once this returns. The checkpointed container must be removed first (`ocictl rm ID`).")
    @OptionGroup var address: ShimAddress
    @OptionGroup var options: ContainerCreateOptions
    @Option(name: .customLong("image-path"), help: "Directory holding CRIU's images from `ocictl checkpoint`.")
    var imagePath: String
    @Option(name: .customLong("work-path"), help: "Directory for CRIU's logs (default: the bundle).")
    var workPath: String?
    @Flag(name: .customLong("tcp-established"), help: "Restore established TCP connections.")
    var tcpEstablished = false
    @Flag(name: .customLong("file-locks"), help: "Restore file locks.")
    var fileLocks = false
    @Argument(help: "The container id.") var id: String

    func run() throws {
        // A second shim on the same state dir would take over the first's socket.
        if FileSystem.isDirectory(address.stateDir(id)), let live = try? ShimClient.connect(stateDir: address.stateDir(id)) {
            live.close()
            throw CLIError("container \(id) still exists (its shim runs): remove it with `ocictl rm \(id)` first")
        }
        let (client, restored) = try options.create(id: id, address: address) { request in
            request.restore = .with {
                $0.imagePath = FileSystem.absolute(imagePath)
                $0.workPath = workPath.map { FileSystem.absolute($0) } ?? ""
                $0.tcpEstablished = tcpEstablished
                $0.fileLocks = fileLocks
            }
        }
        client.close()
        print(restored.pid)
    }
}
