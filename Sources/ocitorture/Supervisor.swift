import Glibc
import ShimSystem

/// The process the user started: runs the checks in a worker process and
/// cleans up after it, whatever way it ended.
enum Supervisor {
    /// Starts `executable arguments` with this process's stdio, waits for it
    /// (SIGKILLing it on SIGINT/SIGTERM/SIGHUP), sweeps what is left, and
    /// returns the exit status to pass on (130 after a signal).
    static func run(_ executable: String, _ arguments: [String], cleanup: Cleanup) -> Int32 {
        let signals = Cleanup.signalPipe()
        var options = SpawnOptions(path: executable, arguments: [executable] + arguments, environment: ProcessEnvironment.current())
        options.fds = [(.standardInput, .standardInput), (.standardOutput, .standardOutput), (.standardError, .standardError)]
        let worker: pid_t
        do { worker = try Spawner.spawn(options) } catch {
            say("ocitorture: cannot start the worker: \(error)")
            return 1
        }
        var interrupted: UInt8 = 0
        var status: Int32 = 0
        while true {
            var pfd = pollfd(fd: signals, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 200) > 0 && read(signals, &interrupted, 1) == 1 {
                kill(worker, SIGKILL)
                while waitpid(worker, &status, 0) < 0 && errno == EINTR {}
                say("\nocitorture: signal \(interrupted): stopped; cleaning up")
                break
            }
            if waitpid(worker, &status, WNOHANG) == worker { break }
        }
        cleanup.sweep()
        if interrupted != 0 { return 130 }
        switch Termination(waitStatus: status) {
        case .exited(let code): return code
        case .signaled(let sig):
            say("ocitorture: the worker was killed by signal \(sig)")
            return 128 + sig
        }
    }
}
