import CShimSys
import Glibc
import ShimSystem

/// `ocishim serve` leaves the engine's process tree first thing, before the
/// command line is parsed: the process the engine started forks, and the
/// child leads a new session and becomes the shim; the parent waits until
/// the shim is up and exits 0, or, if the shim ends first, exits with the
/// shim's own status (64 for a command-line error, 1 for any other, the
/// reason on the stderr they share), as if it had failed itself. conmon's
/// parent waits for its monitor the same way.
///
/// Why first: a fork does not copy the page tables of the executable's
/// file-backed pages, so whatever the parent touched before forking (the
/// Swift runtime's type metadata for the command line, the logging setup,
/// the runtime lookup), the shim touched again, fault by fault; and the
/// parent's own pages cost it a copy at the fork and a teardown at its exit.
/// Forking before any of it leaves the parent little to do but wait. It
/// reads argv through C pointers, not `CommandLine.arguments`, for the same
/// reason.
enum Detach {
    /// In the shim (the child): the fd to write one byte to once it is up.
    /// nil, without forking: not `serve`, `--foreground`, or no fork could be
    /// made (the shim then stays in the foreground rather than fail).
    static func serveEarly() -> Int32? {
        let argv = CommandLine.unsafeArgv
        let argc = Int(CommandLine.argc)
        guard argc >= 2, let name = argv[1], strcmp(name, "serve") == 0 else { return nil }
        for i in 2..<argc {
            if let argument = argv[i], strcmp(argument, "--foreground") == 0 { return nil }
        }
        var up: [Int32] = [-1, -1]
        guard ocishim_pipe2(&up, O_CLOEXEC) == 0 else { return nil }
        let pid = ocishim_fork()
        if pid < 0 {
            close(up[0])
            close(up[1])
            return nil
        }
        if pid > 0 {
            close(up[1])
            var byte: UInt8 = 0
            var n: Int
            repeat { n = read(up[0], &byte, 1) } while n < 0 && errno == EINTR
            if n == 1 { _exit(0) }
            var status: Int32 = 0
            var reaped: pid_t
            repeat { reaped = waitpid(pid, &status, 0) } while reaped < 0 && errno == EINTR
            guard reaped == pid, case .exited(let code) = Termination(waitStatus: status) else { _exit(1) }
            _exit(code)  // 0 after --help
        }
        close(up[0])
        _ = setsid()
        return up[1]
    }
}
