import Glibc
import ShimCore
import ShimProtocol
import ShimSystem

/// The stdio containerd gives a process (Create, Exec): paths of FIFOs the
/// client (ctr, CRI) made and reads, a file (`file://` URI), or nothing.
/// Opened here, without ever blocking, as containerd's runc shim opens them
/// (pkg/process/io.go): stdout and stderr FIFOs read-write, so that writes
/// never fail while no client reads (they wait in the FIFO, as with runc.v2);
/// the stdin FIFO read, plus a write end held until CloseIO so the process
/// does not see EOF when a client closes its end (a detached `ctr run`).
/// The core then relays (RelayedStdio).
struct TaskStdio: Equatable {
    var stdin = ""
    var stdout = ""
    var stderr = ""
    var terminal = false

    var isEmpty: Bool { stdin.isEmpty && stdout.isEmpty && stderr.isEmpty }

    /// The fds for the core; nil when there is no stdio at all (the
    /// process's output is then read and discarded, its stdin is empty).
    func open() throws(RPCError) -> RelayedStdio? {
        guard !isEmpty else { return nil }
        var fds = RelayedStdio()
        do throws(RPCError) {
            var outPath = stdout
            var errPath = terminal ? "" : stderr
            if let scheme = Self.scheme(of: stdout) {
                switch scheme {
                case "fifo":
                    outPath = Self.path(of: stdout)
                case "file":
                    // containerd's runc shim: both streams appended to one file.
                    let path = Self.path(of: stdout)
                    try? FileSystem.createDirectory(FileSystem.dirname(of: path), mode: 0o755)
                    let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
                    guard fd >= 0 else { throw RPCError(.internal, "open \(path): \(SystemError("open"))") }
                    Glibc.close(fd)
                    outPath = path
                    errPath = terminal ? "" : path
                case "binary":
                    throw RPCError(.unimplemented, "binary:// log URIs (\(stdout)) are not supported by this shim")
                default:
                    throw RPCError(.invalidArgument, "unknown STDIO scheme \(scheme)")
                }
            }
            if !stdin.isEmpty {
                fds.stdin = try Self.openFD(stdin, O_RDONLY | O_NONBLOCK, what: "stdin")
                fds.stdinHold = try Self.openFD(stdin, O_WRONLY | O_NONBLOCK, what: "stdin")
            }
            if !outPath.isEmpty { fds.stdout = try Self.openOutput(outPath, what: "stdout") }
            if !errPath.isEmpty {
                if errPath == outPath && !Self.isFIFO(errPath) {
                    // One file for both: appends through one description.
                    fds.stderr = fcntl(fds.stdout, F_DUPFD_CLOEXEC, 3)
                    guard fds.stderr >= 0 else { throw RPCError(.internal, "dup stdout: \(SystemError("dup"))") }
                } else {
                    fds.stderr = try Self.openOutput(errPath, what: "stderr")
                }
            }
            return fds
        } catch {
            fds.closeAll()
            throw error
        }
    }

    private static func scheme(of uri: String) -> String? {
        guard let range = uri.firstRange(of: "://") else { return nil }
        return String(uri[..<range.lowerBound])
    }

    private static func path(of uri: String) -> String {
        guard let range = uri.firstRange(of: "://") else { return uri }
        let rest = uri[range.upperBound...]
        // file:///path, or file://host/path (the host is not used).
        if rest.hasPrefix("/") { return String(rest) }
        return rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? String(rest)
    }

    private static func isFIFO(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO
    }

    /// A FIFO read-write (never blocks, never EPIPE); a file appended to.
    private static func openOutput(_ path: String, what: String) throws(RPCError) -> Int32 {
        try openFD(path, isFIFO(path) ? O_RDWR | O_NONBLOCK : O_WRONLY | O_APPEND, what: what)
    }

    private static func openFD(_ path: String, _ flags: Int32, what: String) throws(RPCError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        guard fd >= 0 else {
            throw RPCError(errno == ENOENT ? .notFound : .internal, "containerd-shim: opening \(what) \(path) failed: \(SystemError("open"))")
        }
        return fd
    }
}
