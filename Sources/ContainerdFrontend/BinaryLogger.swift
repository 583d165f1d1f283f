import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimSystem
import SystemPackage

/// The logging binary of a `binary://` stdio URI, run as containerd's runc
/// shim runs it (pkg/process/io.go NewBinaryIO; runtime/v2/runc/platform.go
/// CopyConsole for a terminal): the process's stdout and stderr arrive on
/// its fds 3 and 4 (pipes), fd 5 is a pipe on which it says it is ready (a
/// byte, or closing it), its environment is CONTAINER_ID and
/// CONTAINER_NAMESPACE only, its stdio /dev/null. The process's output is
/// relayed into the pipes (RelayedStdio), which close once the output has
/// ended; with a terminal, everything goes to fd 3 and fd 4 is at EOF from
/// the start. At Delete it gets SIGTERM, and SIGKILL if it has not exited
/// 12 s later (binaryIOProcTermTimeout).
final class BinaryLogger {
    static let termTimeoutSeconds = 12.0

    let pid: pid_t
    let label: String
    /// The pipes' write ends, for the relay (which takes them over).
    private(set) var stdio: RelayedStdio
    /// The ready pipe's read end, until the binary is ready or stopped.
    private var readyFD: FileDescriptor?
    private var termination: Termination?
    private var exitWaiters: [() -> Void] = []
    private let loop: EventLoop
    private let reaper: any ProcessTable
    private let log: Logger

    /// Starts the binary. `id`: CONTAINER_ID (the container's id, or for an
    /// exec its exec id, as containerd's runc shim passes it).
    init(_ uri: BinaryLogURI, id: String, namespace: String, terminal: Bool,
         loop: EventLoop, reaper: any ProcessTable, log: Logger) throws(RPCError) {
        self.loop = loop
        self.reaper = reaper
        self.log = log
        label = "logging binary \(uri.path) of \(id)"
        guard !uri.path.isEmpty else { throw Self.failure("failed to start binary process: exec: no command") }
        var opened: [FileDescriptor] = []
        defer { for fd in opened { try? fd.close() } }
        let out: (read: FileDescriptor, write: FileDescriptor), err: (read: FileDescriptor, write: FileDescriptor)
        let ready: (read: FileDescriptor, write: FileDescriptor)
        do throws(SystemError) {
            out = try Pipe.make(); opened += [out.read, out.write]
            err = try Pipe.make(); opened += [err.read, err.write]
            ready = try Pipe.make(); opened += [ready.read, ready.write]
        } catch {
            throw Self.failure("failed to create stdout pipes: \(error)")
        }
        let devnullFD = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devnullFD >= 0 else { throw Self.failure("open /dev/null: \(SystemError("open"))") }
        let devnull = FileDescriptor(rawValue: devnullFD)
        opened.append(devnull)
        var spawn = SpawnOptions(path: uri.path, arguments: [uri.path] + uri.arguments,
                                 environment: ["CONTAINER_ID=\(id)", "CONTAINER_NAMESPACE=\(namespace)"])
        spawn.fds = [(.standardInput, devnull), (.standardOutput, devnull), (.standardError, devnull),
                     (FileDescriptor(rawValue: 3), out.read), (FileDescriptor(rawValue: 4), err.read),
                     (FileDescriptor(rawValue: 5), ready.write)]
        do { pid = try Spawner.spawn(spawn) } catch {
            throw Self.failure("failed to start binary process: \(error)")
        }
        // Kept: the write ends the relay writes to (a terminal has no
        // stderr) and the ready pipe's read end; the rest is the binary's.
        opened.removeAll { $0 == out.write || $0 == ready.read || (!terminal && $0 == err.write) }
        stdio = RelayedStdio(stdout: out.write, stderr: terminal ? nil : err.write)
        readyFD = ready.read
        // Held by the reaper until the binary has exited: a Delete waiting
        // for it needs it when the exit comes.
        reaper.onExit(of: pid) { termination in self.exited(termination) }
        log.debug("\(label): started as pid \(pid)")
    }

    private static func failure(_ message: String) -> RPCError {
        RPCError(.unknown, "failed to create init process I/O: \(message)")
    }

    /// Calls `body` once the binary wrote its byte on fd 5 or closed it
    /// (by exiting too): containerd's runc shim waits for the same, without
    /// a deadline, before the process is created.
    func whenReady(_ body: @escaping (Result<Void, RPCError>) -> Void) {
        do {
            guard let readyFD else { return body(.failure(Self.failure("the logging binary was stopped before it was ready"))) }
            try loop.watch(readyFD, .readable) { [weak self] _ in
                guard let self, let readyFD = self.readyFD else { return }
                var byte: UInt8 = 0
                let n = read(readyFD.rawValue, &byte, 1)
                if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
                let failure = n < 0 ? SystemError("read") : nil
                closeReady()
                if let failure {
                    body(.failure(Self.failure("failed to read from logging binary: \(failure)")))
                } else {
                    body(.success(()))
                }
            }
        } catch {
            closeReady()
            body(.failure(Self.failure("cannot wait for the logging binary: \(error)")))
        }
    }

    private func closeReady() {
        guard let readyFD else { return }
        loop.unwatch(readyFD)
        try? readyFD.close()
        self.readyFD = nil
    }

    /// The process the binary logs for is gone: SIGTERM, SIGKILL after 12 s;
    /// `done` once it has exited or was killed.
    func stop(_ done: @escaping () -> Void) {
        closeReady()
        guard termination == nil else { return done() }
        var finished = false
        let finish = {
            guard !finished else { return }
            finished = true
            done()
        }
        exitWaiters.append(finish)
        _ = reaper.signal(pid, SIGTERM)
        _ = loop.schedule(afterSeconds: Self.termTimeoutSeconds) { [self] in
            guard termination == nil else { return }
            log.warning("\(label): still running \(Int(Self.termTimeoutSeconds)) s after SIGTERM, killing it")
            _ = reaper.signal(pid, SIGKILL)
            finish()
        }
    }

    /// Ends the binary now (a create or exec that failed), and closes the
    /// pipes that were not handed to the relay.
    func kill() {
        closeReady()
        stdio.closeAll()
        stdio = RelayedStdio()
        if termination == nil { _ = reaper.signal(pid, SIGKILL) }
    }

    /// The relay took the pipes over.
    func handedOver() { stdio = RelayedStdio() }

    private func exited(_ termination: Termination) {
        self.termination = termination
        log.debug("\(label): \(termination)")
        let waiters = exitWaiters
        exitWaiters = []
        for waiter in waiters { waiter() }
    }
}
