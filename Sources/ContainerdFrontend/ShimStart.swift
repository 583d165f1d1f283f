import ContainerdProtocol
import Glibc
import ShimSystem
import SystemPackage

/// `containerd-shim-ocishim-v1 ... start`, as containerd's runc shim does it
/// (runtime/v2/runc/manager/manager_linux.go): in the bundle (the working
/// directory containerd gives), make the shim's socket, write its address to
/// `address`, launch the shim on that socket (fd 3, a process group of its
/// own, stdio on /dev/null: containerd waits for this command's output to
/// end), place it in the shim cgroup the runtime options name, give it
/// containerd's OOM score + 1, and print the address. A socket that already
/// answers is a live shim for this id: its address is printed again.
///
/// Containers that name a group share one shim, as containerd's runc shim
/// groups them (its annotations list, manager_linux.go groupLabels): the
/// socket is named after the group, so the second container's `start`
/// finds the first one's shim and prints its address, and containerd
/// creates the container there.
enum ShimStart {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The annotations that group containers into one shim, in order: this
    /// runtime's own, then a CRI pod's sandbox id (every container of a pod).
    static let groupAnnotations = ["io.containerd.ocishim.v1.group", "io.kubernetes.cri.sandbox-id"]

    /// The group `id` belongs to: the first group annotation of the
    /// bundle's config.json, else the container itself.
    static func grouping(id: String, configPath: String = "config.json") -> String {
        guard let bytes = try? FileSystem.read(configPath, limit: 4 << 20),
              let config = try? JSONValue(parsing: bytes) else { return id }
        for key in groupAnnotations {
            if let group = config["annotations"]?[key]?.stringValue, !group.isEmpty { return group }
        }
        return id
    }

    /// Returns the address to print.
    static func run(_ line: ShimCommandLine, executable: String, optionsBytes: [UInt8]) throws -> String {
        let address = ShimAddress.make(containerdAddress: line.address, namespace: line.namespace, id: grouping(id: line.id))
        guard let path = ShimAddress.path(of: address) else { throw Failure(description: "bad shim address \(address)") }
        try? FileSystem.createDirectory(ShimAddress.socketRoot, mode: 0o711)
        let socket: FileDescriptor
        do throws(SystemError) {
            socket = try UnixSocket.listen(path: path, type: Int32(SOCK_STREAM.rawValue), mode: 0o600)
        } catch where error.errno.rawValue == EADDRINUSE {
            if let live = try? UnixSocket.connect(path: path, type: Int32(SOCK_STREAM.rawValue)) {
                try? live.close()
                try writeAddress(address)
                return address
            }
            // A dead shim's socket: take the name over.
            try? FileSystem.removeFile(path)
            do {
                socket = try UnixSocket.listen(path: path, type: Int32(SOCK_STREAM.rawValue), mode: 0o600)
            } catch {
                throw Failure(description: "create new shim socket: \(error)")
            }
        } catch {
            throw Failure(description: "create new shim socket: \(error)")
        }
        var pid: pid_t = -1
        do {
            try writeAddress(address)
            pid = try launch(line, executable: executable, socket: socket)
            try? socket.close()
            try ShimCgroup.place(pid: pid, optionsBytes: optionsBytes)
            try adjustOOMScore(pid: pid)
            return address
        } catch {
            if pid > 0 { kill(pid, SIGKILL) }
            try? socket.close()
            try? FileSystem.removeFile(path)
            throw error
        }
    }

    private static func writeAddress(_ address: String) throws {
        do { try FileSystem.writeAtomically("address", address) } catch {
            throw Failure(description: "write address file: \(error)")
        }
    }

    private static func launch(_ line: ShimCommandLine, executable: String, socket: FileDescriptor) throws -> pid_t {
        let devnullFD = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devnullFD >= 0 else { throw Failure(description: "open /dev/null: \(SystemError("open"))") }
        let devnull = FileDescriptor(rawValue: devnullFD)
        defer { try? devnull.close() }
        var options = SpawnOptions(path: executable, arguments: [executable] + line.serveArguments,
                                   environment: ProcessEnvironment.current())
        options.fds = [(.standardInput, devnull), (.standardOutput, devnull), (.standardError, devnull),
                       (FileDescriptor(rawValue: 3), socket)]
        options.newProcessGroup = true
        do {
            return try Spawner.spawn(options)
        } catch {
            throw Failure(description: "start the shim: \(error)")
        }
    }

    /// containerd's AdjustOOMScore: the shim is killed before containerd.
    private static func adjustOOMScore(pid: pid_t) throws {
        let parent = getppid()
        guard let text = try? FileSystem.readString("/proc/\(parent)/oom_score_adj", limit: 64),
              let score = Int(text.trimmingCharacters(" \n")) else {
            throw Failure(description: "failed to adjust OOM score for shim: cannot read the OOM score of pid \(parent)")
        }
        let shimScore = min(score + 1, 1000)
        let fd = open("/proc/\(pid)/oom_score_adj", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "failed to adjust OOM score for shim: \(SystemError("open"))") }
        defer { close(fd) }
        let bytes = Array("\(shimScore)".utf8)
        if write(fd, bytes, bytes.count) != bytes.count {
            throw Failure(description: "failed to adjust OOM score for shim: \(SystemError("write"))")
        }
    }
}

extension String {
    func trimmingCharacters(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
