import CShimSys
import Glibc
import ShimSystem

/// How the monitor leaves the engine, as conmon does: the process the engine
/// started forks; the parent writes the monitor's pid file and exits 0 (the
/// engine's cmd.Wait() returns and it reads the sync pipe); the child goes
/// on at once, whether or not the pid file could be written (conmon's child
/// does not wait for its parent).
enum Detach {
    /// Returns in the monitor. The original process exits in here: 0 once
    /// the pid file is written, 1 (conmon's message on stderr) if it cannot be.
    static func forkMonitor(conmonPidFile: String?) {
        let child = ocishim_fork()
        if child < 0 { ConmonLog.pexit("Failed to fork the create command") }
        guard child > 0 else { return }
        if let conmonPidFile {
            do {
                try GFile.setContents(conmonPidFile, "\(child)")
            } catch {
                ConmonLog.pexitfNow("Failed to write conmon pidfile: \(error.message)", errno: error.errno)
            }
        }
        _exit(0)
    }

    /// The monitor's own process state: its own session, subreaper of the
    /// container, stdio on /dev/null (unless the container gets the stdio).
    static func becomeMonitor(disconnectStdio: Bool, diagnosticsFile: String?) {
        if disconnectStdio { self.disconnectStdio(diagnosticsFile: diagnosticsFile) }
        _ = setsid()  // fails harmlessly under --sync when already a group leader
        if ocishim_set_child_subreaper() != 0 { ConmonLog.pexit("Failed to set as subreaper") }
    }

    /// /dev/null as stdio; stderr (the monitor's own diagnostics) may go to
    /// a file instead, for debugging a monitor an engine started.
    static func disconnectStdio(diagnosticsFile: String?) {
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devnull >= 0 else { ConmonLog.pexit("Failed to open /dev/null") }
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
}

/// The fds the engine left open in the monitor beyond stdio and the pipes
/// (podman's preserved fds, reserved ports, slirp4netns' sync pipe): the
/// runtime gets them at their numbers, as conmon leaves them to it, and the
/// monitor holds them (close-on-exec) until the container exits.
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
