import CShimSys
import Glibc
import Logging
import ShimCore
import ShimSystem
import SystemPackage

/// `containerd-shim-ocishim-v1`: containerd's shim binary protocol
/// (runtime/v2/shim/shim.go, run): `start` launches the shim and prints its
/// address, `delete` cleans up after a dead shim and prints a
/// DeleteResponse, no action is the shim itself. Errors go to stderr as
/// "<binary>: <error>" with exit status 1, as containerd's shims report them.
public enum ShimMain {
    static let name = "containerd-shim-ocishim-v1"

    public static func main(_ arguments: [String]) -> Never {
        let line: ShimCommandLine
        do throws(ShimCommandLine.UsageError) {
            line = try ShimCommandLine.parse(arguments.dropFirst())
        } catch {
            fail("\(error)", status: 2)
        }
        if line.version {
            print("\(arguments.first ?? name):\n  Version:  \(ShimVersion.current)\n  Revision: ocishim\n")
            exit(0)
        }
        guard !line.namespace.isEmpty else { fail("shim namespace cannot be empty") }
        switch line.action {
        case .start:
            SignalSource.ignore([SIGPIPE])
            let input = (try? FileSystem.readAll(fd: .standardInput, limit: 1 << 20, what: "stdin")) ?? []
            do {
                let address = try ShimStart.run(line, executable: executablePath(arguments), optionsBytes: input)
                writeAll(1, Array(address.utf8))
                exit(0)
            } catch {
                fail("\(error)")
            }
        case .delete:
            SignalSource.ignore([SIGPIPE])
            writeAll(1, ShimDelete.run(line))
            exit(0)
        case .serve:
            exit(serve(line))
        }
    }

    private static func serve(_ line: ShimCommandLine) -> Int32 {
        _ = ocishim_set_child_subreaper()
        // containerd reads the shim's messages from the bundle's `log` FIFO
        // (it made it and holds it open): stderr goes there, without ever
        // blocking the shim on a reader that is behind.
        let logFIFO = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        if logFIFO >= 0 {
            dup2(logFIFO, 2)
            close(logFIFO)
        }
        ShimLogHandler.bootstrap(level: line.debug ? .debug : .warning, sink: .stderr)
        let bundle = FileSystem.absolute(".")
        let shim: ContainerdShim
        do {
            shim = try ContainerdShim(line: line, bundle: bundle,
                                      ttrpcAddress: getenv("TTRPC_ADDRESS").map { String(cString: $0) } ?? "")
            if !line.socket.isEmpty {
                try shim.serve(path: line.socket)
            } else {
                let address = (try? FileSystem.readString("address", limit: 4096)) ?? ""
                try shim.serve(listening: FileDescriptor(rawValue: 3), path: ShimAddress.path(of: address) ?? "")
            }
        } catch {
            Logger(label: "ocishim.containerd").error("cannot start: \(error)")
            return 1
        }
        return shim.run()
    }

    /// This binary, to launch the shim: the path the kernel ran.
    private static func executablePath(_ arguments: [String]) -> String {
        FileSystem.readLink("/proc/self/exe") ?? arguments.first ?? name
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }

    private static func fail(_ message: String, status: Int32 = 1) -> Never {
        writeAll(2, Array("\(name): \(message)\n".utf8))
        exit(status)
    }
}
