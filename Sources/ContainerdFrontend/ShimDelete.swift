import ContainerdProtocol
import Glibc
import ShimCore
import ShimSystem
import SwiftProtobuf

/// `containerd-shim-ocishim-v1 ... -bundle DIR delete`: containerd cleans up
/// after a shim that died (runtime/v2/binary.go, Delete), as containerd's
/// runc shim does it (manager_linux.go, Stop): the runtime deletes the
/// container (with force), the rootfs is unmounted, and the answer on
/// stdout is a serialized DeleteResponse with the init's pid and exit status
/// 137 (SIGKILL), now. The runtime and its root come from the state file
/// the shim kept in the bundle (ShimPaths).
enum ShimDelete {
    static func run(_ line: ShimCommandLine) -> [UInt8] {
        let bundle = line.bundle.isEmpty ? FileSystem.absolute(".") : FileSystem.absolute(line.bundle)
        let paths = ShimPaths(bundle: bundle)
        let state = ShimStateFile.read(stateDir: paths.stateDir)
        let runtime = state?.runtime?.path ?? FileSystem.lookPath("runc") ?? "runc"
        let root = state?.runtime?.root ?? ShimPaths.defaultRuntimeRoot(namespace: line.namespace)
        let args = (state?.runtime?.args ?? []) + ["--root", root, "delete", "--force", line.id]
        if let failure = run(runtime, args) {
            warn("failed to remove runc container: \(failure)")
        }
        RootfsMounts.unmountAll(FileSystem.join(bundle, "rootfs"))
        var pid: Int32 = 0
        if let text = try? FileSystem.readString(paths.initPidFile, limit: 64), let value = Int32(text.trimmingCharacters(" \n")) {
            pid = value
        } else {
            warn("failed to read init pid file")
        }
        // The dead shim's socket goes too (it is the shim's, and nobody serves it).
        if let address = try? FileSystem.readString(FileSystem.join(bundle, "address"), limit: 4096),
           let socket = ShimAddress.path(of: address),
           (try? UnixSocket.connect(path: socket, type: Int32(SOCK_STREAM.rawValue))).map({ try? $0.close(); return false }) ?? true {
            try? FileSystem.removeFile(socket)
        }
        var response = Containerd_Task_V2_DeleteResponse()
        response.pid = UInt32(bitPattern: pid)
        response.exitStatus = 128 + UInt32(SIGKILL)
        response.exitedAt = Timestamps.now()
        return (try? response.serializedBytes()) ?? []
    }

    /// Runs `path args` to its end; nil on success, else what went wrong.
    private static func run(_ path: String, _ args: [String]) -> String? {
        var options = SpawnOptions(path: path, arguments: [path] + args, environment: ProcessEnvironment.current())
        options.fds = [(.standardInput, .standardInput), (.standardOutput, .standardError), (.standardError, .standardError)]
        let pid: pid_t
        do { pid = try Spawner.spawn(options) } catch { return "\(error)" }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status == 0 ? nil : "\(path) \(args.joined(separator: " ")): \(Termination.describe(waitStatus: status))"
    }

    private static func warn(_ text: String) {
        let line = "containerd-shim-ocishim-v1: \(text)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
