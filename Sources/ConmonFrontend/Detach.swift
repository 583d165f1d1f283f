import CShimSys
import Glibc
import ShimSystem

/// How the monitor leaves the engine, as conmon does: the process the engine
/// started forks; the parent writes the monitor's pid file and exits 0 (the
/// engine's cmd.Wait() returns and it reads the sync pipe); the child leads a
/// new session, reaps as a subreaper, and has /dev/null as stdio (the engine
/// waits for EOF on the stdio it gave conmon).
enum Detach {
    /// Returns in the monitor. The original process exits in here: 0 once
    /// the pid file is written, 1 (after reporting) if it cannot be; then
    /// the child exits too, before it has started anything.
    static func forkMonitor(conmonPidFile: String?, pipes: ParentPipes) {
        var go: [Int32] = [-1, -1]
        guard ocishim_pipe2(&go, O_CLOEXEC) == 0 else {
            fail("cannot create a pipe to start the monitor: \(String(cString: strerror(errno)))", pipes)
        }
        let child = ocishim_fork()
        if child < 0 { fail("Failed to fork the monitor: \(String(cString: strerror(errno)))", pipes) }
        if child > 0 {
            close(go[0])
            if let conmonPidFile {
                do {
                    try FileSystem.writeAtomically(conmonPidFile, "\(child)")
                } catch {
                    // The child sees EOF instead of the go byte and exits.
                    fail("Failed to write conmon pidfile: \(error)", pipes)
                }
            }
            var byte: UInt8 = 1
            _ = write(go[1], &byte, 1)
            _exit(0)
        }
        close(go[1])
        var byte: UInt8 = 0
        var n: Int
        repeat { n = read(go[0], &byte, 1) } while n < 0 && errno == EINTR
        close(go[0])
        if n != 1 { _exit(1) }
    }

    /// The monitor's own process state: its own session, subreaper of the
    /// container, stdio on /dev/null (unless the container gets the stdio).
    static func becomeMonitor(disconnectStdio: Bool, diagnosticsFile: String?) {
        _ = setsid()  // fails harmlessly under --sync when already a group leader
        _ = ocishim_set_child_subreaper()
        if disconnectStdio { self.disconnectStdio(diagnosticsFile: diagnosticsFile) }
    }

    /// /dev/null as stdio; stderr (the monitor's own diagnostics) may go to
    /// a file instead, for debugging a monitor an engine started.
    static func disconnectStdio(diagnosticsFile: String?) {
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devnull >= 0 else { return }
        for fd in Int32(0)...2 { dup2(devnull, fd) }
        close(devnull)
        if let diagnosticsFile {
            let fd = open(diagnosticsFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 {
                dup2(fd, 2)
                close(fd)
            }
        }
    }

    /// Reports a start-up failure the conmon way and exits 1.
    static func fail(_ message: String, _ pipes: ParentPipes) -> Never {
        ConmonDiagnostics.printError(message)
        pipes.report(-1, message: message)
        exit(1)
    }
}

/// The fds the engine left open in the monitor beyond stdio and the pipes
/// (podman's reserved ports, slirp4netns' sync pipe): held, close-on-exec,
/// until the container exits, as conmon holds them.
enum InheritedFDs {
    static func scan(excluding known: [Int32]) -> [Int32] {
        guard let dir = opendir("/proc/self/fd") else { return [] }
        defer { closedir(dir) }
        let own = dirfd(dir)
        var found: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let fd = Int32(name), fd > 2, fd != own, !known.contains(fd) else { continue }
            found.append(fd)
        }
        for fd in found { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return found.sorted()
    }
}
