import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimSystem
import SystemPackage

/// The stdio containerd gives a process (Create, Exec): paths of FIFOs the
/// client (ctr, CRI) made and reads, a file (`file://` URI), a logging
/// binary (`binary://` URI: BinaryLogger), or nothing.
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

    /// The logging binary a `binary://` stdout names; nil for anything else.
    func binaryLog() throws(RPCError) -> BinaryLogURI? {
        guard Self.scheme(of: stdout) == "binary" else { return nil }
        do { return try BinaryLogURI(parsing: stdout) } catch { throw RPCError(.invalidArgument, "\(error)") }
    }

    /// Whether the process has a stdin: a logging binary takes only output,
    /// so without a terminal the process reads /dev/null (containerd's runc
    /// shim copies no stdin then either).
    var hasStdin: Bool { !stdin.isEmpty && (terminal || Self.scheme(of: stdout) != "binary") }

    /// What the process's stdio needs: the fds for the core (`open()`) and,
    /// for a `binary://` stdout, the logging binary started with `id` as
    /// its CONTAINER_ID, its pipes among the fds. Nothing is left open or
    /// running when it throws.
    func open(id: String, namespace: String, loop: EventLoop, reaper: any ProcessTable,
              log: Logger) throws(RPCError) -> (fds: RelayedStdio?, logger: BinaryLogger?) {
        let uri = try binaryLog()
        var fds = try open()
        guard let uri else { return (fds, nil) }
        let logger: BinaryLogger
        do {
            logger = try BinaryLogger(uri, id: id, namespace: namespace, terminal: terminal, loop: loop, reaper: reaper, log: log)
        } catch {
            fds?.closeAll()
            throw error
        }
        var all = fds ?? RelayedStdio()
        all.stdout = logger.stdio.stdout
        all.stderr = logger.stdio.stderr
        logger.handedOver()
        fds = all
        return (fds, logger)
    }

    /// The fds for the core; nil when there is no stdio at all (the
    /// process's output is then read and discarded, its stdin is empty).
    /// A `binary://` stdout opens no output here: BinaryLogger's pipes are
    /// the outputs.
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
                    outPath = ""
                    errPath = ""
                default:
                    throw RPCError(.invalidArgument, "unknown STDIO scheme \(scheme)")
                }
            }
            if hasStdin {
                fds.stdin = try Self.openFD(stdin, O_RDONLY | O_NONBLOCK, what: "stdin")
                fds.stdinHold = try Self.openFD(stdin, O_WRONLY | O_NONBLOCK, what: "stdin")
            }
            if !outPath.isEmpty { fds.stdout = try Self.openOutput(outPath, what: "stdout") }
            if !errPath.isEmpty {
                if errPath == outPath && !Self.isFIFO(errPath) {
                    // One file for both: appends through one description.
                    let copy = fds.stdout.map { fcntl($0.rawValue, F_DUPFD_CLOEXEC, 3) } ?? -1
                    guard copy >= 0 else { throw RPCError(.internal, "dup stdout: \(SystemError("dup"))") }
                    fds.stderr = FileDescriptor(rawValue: copy)
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

    private static func scheme(of uri: String) -> String? { StdioURI.scheme(of: uri) }

    /// file:///path, or file://host/path (the host is not used).
    private static func path(of uri: String) -> String {
        StdioURI.pathAndQuery(of: uri)?.path ?? uri
    }

    private static func isFIFO(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO
    }

    /// A FIFO read-write (never blocks, never EPIPE); a file appended to.
    private static func openOutput(_ path: String, what: String) throws(RPCError) -> FileDescriptor {
        try openFD(path, isFIFO(path) ? O_RDWR | O_NONBLOCK : O_WRONLY | O_APPEND, what: what)
    }

    private static func openFD(_ path: String, _ flags: Int32, what: String) throws(RPCError) -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        guard fd >= 0 else {
            throw RPCError(errno == ENOENT ? .notFound : .internal, "containerd-shim: opening \(what) \(path) failed: \(SystemError("open"))")
        }
        return FileDescriptor(rawValue: fd)
    }
}
