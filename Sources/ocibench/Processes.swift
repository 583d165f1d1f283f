import CShimSys
import Foundation
import Glibc
import ShimSystem
import SystemPackage

/// Child processes of the bench, all started with an exact fd table (no fd of
/// the bench leaks into a monitor) and waited for by pid. The bench is a child
/// subreaper, so monitors that detach (both ocishim and conmon fork and let
/// their first process exit) become its children again: it can read a
/// monitor's CPU time after the monitor exited (a zombie keeps its times)
/// and reap it afterwards.
enum Processes {
    static let devNull: Int32 = open("/dev/null", O_RDWR | O_CLOEXEC)

    static func becomeSubreaper() throws {
        guard ocishim_set_child_subreaper() == 0 else { throw BenchError("prctl(PR_SET_CHILD_SUBREAPER): \(String(cString: strerror(errno)))") }
    }

    static var environment: [String] {
        ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }.sorted()
    }

    /// Starts `path` with the given fds (child number -> bench fd); fds 0-2
    /// default to /dev/null.
    static func spawn(_ path: String, _ arguments: [String], fds: [(child: Int32, parent: Int32)] = [],
                      environment: [String]? = nil, directory: String? = nil) throws -> pid_t {
        var table: [(child: Int32, parent: Int32)] = [(0, devNull), (1, devNull), (2, devNull)]
        for fd in fds {
            table.removeAll { $0.child == fd.child }
            table.append(fd)
        }
        var options = SpawnOptions(path: path, arguments: [path] + arguments,
                                   environment: environment ?? Self.environment, directory: directory)
        options.fds = SpawnOptions.fdTable(table)
        do {
            return try Spawner.spawn(options)
        } catch {
            throw BenchError("\(error)")
        }
    }

    /// Runs a program to completion; its stdout and stderr are captured
    /// together. Throws when it fails, with what it said. Not for `runc
    /// create`: the container inherits the runtime's stdio and would hold the
    /// pipe open (`runQuiet`).
    @discardableResult
    static func run(_ path: String, _ arguments: [String], allowFailure: Bool = false) throws -> String {
        let output = try ShimSystem.Pipe.makeRaw()
        let pid: pid_t
        do {
            pid = try spawn(path, arguments, fds: [(1, output.write), (2, output.write)])
        } catch {
            close(output.read)
            close(output.write)
            throw error
        }
        close(output.write)
        let bytes = (try? FileSystem.readAll(fd: FileDescriptor(rawValue: output.read), limit: 16 << 20, what: path)) ?? []
        close(output.read)
        let status = wait(pid)
        let text = String(decoding: bytes, as: UTF8.self)
        if status != 0 && !allowFailure {
            throw BenchError("\(path) \(arguments.joined(separator: " ")) failed (\(Termination.describe(waitStatus: status))): \(text)")
        }
        return text
    }

    /// Runs a program to completion with its stdio on /dev/null.
    static func runQuiet(_ path: String, _ arguments: [String]) throws {
        let status = wait(try spawn(path, arguments))
        if status != 0 {
            throw BenchError("\(path) \(arguments.joined(separator: " ")) failed (\(Termination.describe(waitStatus: status)))")
        }
    }

    /// Waits for a child and reaps it; returns its wait status.
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        waitWithCPU(pid).status
    }

    /// Waits for a child and reaps it: its wait status and the CPU time it
    /// used (wait4's rusage, user + system; -1 and 0 if there was none).
    static func waitWithCPU(_ pid: pid_t) -> (status: Int32, cpuSeconds: Double) {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            if errno != EINTR { return (-1, 0) }
        }
        return (status, usage.cpuSeconds)
    }

    /// Waits up to `seconds` for a child to exit, without reaping it: its
    /// /proc entry (and CPU times) stay readable until `wait`.
    static func waitForExitKeepingZombie(_ pid: pid_t, seconds: Double) -> Bool {
        let deadline = Clock.monotonicNanos() + Int64(seconds * 1e9)
        repeat {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info._sifields._sigchld.si_pid == pid {
                return true
            }
            if errno == ECHILD { return !alive(pid) }
            usleep(2_000)
        } while Clock.monotonicNanos() < deadline
        return false
    }

    /// Reaps every child that has exited (orphans the bench adopted).
    static func reapExited() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }

    static func alive(_ pid: pid_t) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 else { return false }
        return ProcFS.state(pid) != "Z"
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ShimSystem.Pipe {
    /// A pipe as plain fd numbers: the bench hands them to Glibc calls and
    /// to conmon's command line as they are.
    static func makeRaw() throws(SystemError) -> (read: Int32, write: Int32) {
        let pipe = try make()
        return (pipe.read.rawValue, pipe.write.rawValue)
    }
}
