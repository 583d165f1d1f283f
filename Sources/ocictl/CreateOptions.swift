import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// The options of `create` and `run`, following runc's names where runc has one.
struct ContainerCreateOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "The OCI bundle (default: the current directory).")
    var bundle = "."

    @Flag(name: [.short, .long], help: "Give the container a pseudo-terminal (the bundle's process.terminal must agree).")
    var tty = false

    @Flag(name: [.short, .customShort("i"), .long, .customLong("interactive")],
          help: "Give the container a stdin (run: ocictl's; create: for attach clients).")
    var stdin = false

    @Option(name: .customLong("log-path"), help: "k8s-file log path (default: <state-dir>/ctr.log).")
    var logPath: String?

    @Option(name: .customLong("log-driver"), help: "k8s-file, journald or none (repeatable).")
    var logDrivers: [String] = []

    @Option(name: .customLong("log-size-max"), help: "Truncate the log beyond this many bytes.")
    var logSizeMax: Int64 = -1

    @Option(name: .customLong("exit-dir"), help: "Directory for the exit file (default: <state-dir>/exits).")
    var exitDir: String?

    @Option(help: "The OCI runtime: a name or a path.")
    var runtime = "runc"

    @Option(name: .customLong("runtime-root"), help: "The runtime's --root (default: the global --runtime-root, else the runtime's own).")
    var runtimeRoot: String?

    @Option(name: .customLong("shim"), help: "The ocishim binary.")
    var shim: String?

    /// Spawns the container's shim and creates the container; the shim keeps
    /// running after this process ends. `edit` adds to the request (restore).
    /// An existing state dir is refused (it is another container's, live or
    /// not); a failure removes only the state dir this call made, once its
    /// shim has gone.
    func create(id: String, address: ShimAddress,
                edit: (inout Ocishim_V1_CreateRequest) -> Void = { _ in }) throws -> (ShimClient, Ocishim_V1_CreateResponse) {
        let stateDir = address.stateDir(id)
        try Self.makeStateDir(stateDir, id: id)
        let client: ShimClient
        do {
            client = try ShimClient.spawn(shim: ShimLocation.resolve(shim),
                                          arguments: ["--id", id, "--state-dir", stateDir, "--runtime", runtime])
        } catch {
            throw Self.abandon(stateDir, id: id, after: error)
        }
        var request = Ocishim_V1_CreateRequest()
        request.id = id
        request.bundle = FileSystem.absolute(bundle)
        request.terminal = tty
        request.stdin = stdin
        request.exitDir = exitDir.map { FileSystem.absolute($0) } ?? ""
        if let root = runtimeRoot ?? GlobalOptions.current.runtimeRoot {
            request.runtime.root = FileSystem.absolute(root)
        }
        request.log.sizeMax = logSizeMax
        let drivers = logDrivers.isEmpty ? ["k8s-file"] : logDrivers
        request.log.drivers = drivers.map { driver in
            Ocishim_V1_LogDriver.with {
                $0.driver = driver
                if driver == "k8s-file" { $0.path = FileSystem.absolute(logPath ?? FileSystem.join(stateDir, "ctr.log")) }
            }
        }
        edit(&request)
        do {
            let response: Ocishim_V1_CreateResponse = try client.call("Create", request)
            return (client, response)
        } catch {
            // The shim exits by itself once its only client goes away
            // without a container.
            client.close()
            throw Self.abandon(stateDir, id: id, after: error)
        }
    }

    /// mkdir without -p for the state dir itself: it must be new, so that
    /// this create never takes over (or later removes) another's.
    private static func makeStateDir(_ stateDir: String, id: String) throws {
        do { try FileSystem.createDirectory(FileSystem.dirname(of: stateDir), mode: 0o700) } catch {
            throw CLIError("cannot create \(FileSystem.dirname(of: stateDir)): \(error)")
        }
        guard mkdir(stateDir, 0o700) == 0 else {
            if errno == EEXIST {
                throw CLIError("container \(id) already exists (\(stateDir)): remove it first with `ocictl rm \(id)`")
            }
            throw CLIError("cannot create \(stateDir): \(SystemError("mkdir"))")
        }
    }

    /// After a failed create: waits for this call's shim to go (it exits
    /// without a container and a client), then removes the state dir this
    /// call made. A shim that stays (its create may still finish) keeps it.
    private static func abandon(_ stateDir: String, id: String, after error: Error) -> Error {
        let deadline = Clock.monotonicNanos() + 10_000_000_000
        while StateDirLock.isHeld(stateDir: stateDir) {
            guard Clock.monotonicNanos() < deadline else {
                return CLIError("\(error)\n(the shim of \(id) still runs; `ocictl rm --force \(id)` removes it)")
            }
            usleep(20_000)
        }
        try? FileSystem.removeTree(stateDir)
        return error
    }
}
