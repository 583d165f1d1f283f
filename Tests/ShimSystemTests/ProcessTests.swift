import Glibc
import SystemPackage
import XCTest
@testable import ShimSystem

final class ProcessTests: XCTestCase {
    var loop: EventLoop!
    var signals: SignalSource!
    var reaper: ChildReaper!
    var runner: CommandRunner!

    override func setUpWithError() throws {
        loop = try EventLoop()
        signals = try SignalSource(loop: loop)
        reaper = try ChildReaper(loop: loop, signals: signals)
        runner = CommandRunner(loop: loop, reaper: reaper)
    }

    /// Turns the loop until `condition` holds. The shim is single-threaded,
    /// so SIGCHLD always reaches its signalfd; this test process is not:
    /// Foundation's Process (used by other test classes) runs threads that
    /// take SIGCHLD for themselves. Reaping on a short timer as well keeps
    /// these tests about the runner and the reaper, not about which thread
    /// the kernel picked.
    private func turn(until condition: () -> Bool, seconds: Double = 10) -> Bool {
        let deadline = Clock.monotonicNanos() + Int64(seconds * 1e9)
        while !condition() && Clock.monotonicNanos() < deadline {
            loop.run(until: condition, timeoutNanos: 50_000_000)
            reaper.reap()
        }
        return condition()
    }

    private func runToEnd(_ command: CommandRunner.Command) throws -> CommandResult {
        var result: CommandResult?
        try runner.run(command) { result = $0 }
        XCTAssertTrue(turn(until: { result != nil }))
        return try XCTUnwrap(result)
    }

    func testOutputIsCapturedAndTheExitStatusReported() throws {
        let result = try runToEnd(.init(path: "/bin/sh", arguments: ["sh", "-c", "echo out; echo err >&2; exit 3"],
                                        environment: [], timeoutNanos: 5_000_000_000))
        XCTAssertEqual(result.stdoutText, "out\n")
        XCTAssertEqual(result.stderrText, "err\n")
        XCTAssertEqual(result.termination, .exited(3))
        XCTAssertEqual(result.termination.exitCode, 3)
        XCTAssertFalse(result.timedOut)
    }

    func testAHungCommandIsKilledAtItsDeadline() throws {
        let start = Clock.monotonicNanos()
        let result = try runToEnd(.init(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [], timeoutNanos: 200_000_000))
        XCTAssertTrue(result.timedOut)
        XCTAssertEqual(result.termination, .signaled(SIGKILL))
        XCTAssertEqual(result.termination.exitCode, 137, "conmon's 128+signal")
        XCTAssertLessThan(Clock.monotonicNanos() - start, 5_000_000_000)
    }

    func testTheChildGetsOnlyTheFdsItIsGiven() throws {
        // Leave a non-close-on-exec fd open in the parent: it must not leak.
        let leaky = open("/dev/null", O_RDONLY)
        defer { close(leaky) }
        let result = try runToEnd(.init(path: "/bin/ls", arguments: ["ls", "/proc/self/fd"], environment: [], timeoutNanos: 5_000_000_000))
        // ls itself opens one fd for the directory it lists.
        let fds = result.stdoutText.split(separator: "\n").compactMap { Int($0) }.sorted()
        XCTAssertEqual(fds.prefix(3), [0, 1, 2])
        XCTAssertLessThanOrEqual(fds.count, 4, "fds seen by the child: \(fds)")
        XCTAssertFalse(fds.contains(Int(leaky)) && leaky > 3, "the parent's fd \(leaky) leaked")
    }

    func testExtraFdsArriveAtTheirNumbers() throws {
        let (r, w) = try Pipe.make()
        defer { try? r.close() }
        var command = CommandRunner.Command(path: "/bin/sh", arguments: ["sh", "-c", "echo via-fd-5 >&5"], environment: [], timeoutNanos: 5_000_000_000)
        command.extraFds = [(FileDescriptor(rawValue: 5), w)]
        let result = try runToEnd(command)
        try? w.close()
        XCTAssertEqual(result.termination, .exited(0))
        let got = try FileSystem.readAll(fd: r, limit: 100, what: "pipe")
        XCTAssertEqual(String(decoding: got, as: UTF8.self), "via-fd-5\n")
    }

    func testSignalsAreResetToDefaultsInTheChild() throws {
        // The test process ignores SIGPIPE like the shim; a child must not.
        signal(SIGPIPE, SIG_IGN)
        let result = try runToEnd(.init(path: "/bin/sh", arguments: ["sh", "-c", "grep SigIgn /proc/self/status"], environment: [], timeoutNanos: 5_000_000_000))
        XCTAssertEqual(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines), "SigIgn:\t0000000000000000")
    }

    /// The child starts with every signal blocked (so that none of the
    /// parent's handlers can run in a child sharing its memory) and must
    /// leave none of them blocked, caught or ignored for the program.
    func testTheChildHasNoBlockedCaughtOrIgnoredSignals() throws {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signal in [SIGCHLD, SIGUSR1, SIGTERM] { sigaddset(&blocked, signal) }
        var old = sigset_t()
        pthread_sigmask(SIG_SETMASK, &blocked, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let previous = signal(SIGUSR2) { _ in }
        defer { signal(SIGUSR2, previous) }
        signal(SIGPIPE, SIG_IGN)
        // cat installs no handler of its own (grep catches SIGSEGV).
        let result = try runToEnd(.init(path: "/bin/cat", arguments: ["cat", "/proc/self/status"],
                                        environment: [], timeoutNanos: 5_000_000_000))
        let lines = result.stdoutText.split(separator: "\n").filter { ["SigBlk:", "SigIgn:", "SigCgt:"].contains($0.prefix(7)) }
        XCTAssertEqual(lines,
                       ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000", "SigCgt:\t0000000000000000"])
        // The parent's mask is its own again once the child is started.
        var now = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &now)
        for signal: Int32 in 1..<32 where signal != SIGKILL && signal != SIGSTOP {
            XCTAssertEqual(sigismember(&now, signal), sigismember(&blocked, signal), "signal \(signal)")
        }
    }

    func testAMissingProgramFailsAtExecWithItsErrno() {
        XCTAssertThrowsError(try runner.run(.init(path: "/nonexistent/runc", arguments: ["runc"], environment: [], timeoutNanos: 1)) { _ in }) { error in
            let spawn = error as? SpawnError
            XCTAssertEqual(spawn?.step, "execve")
            XCTAssertEqual(spawn?.errno, ENOENT)
            XCTAssertTrue("\(error)".contains("/nonexistent/runc"))
        }
        reaper.reap()
        var status: Int32 = 0
        XCTAssertEqual(waitpid(-1, &status, WNOHANG), -1, "no child is left behind")
    }

    func testAnExitReapedBeforeAnyoneAskedIsKept() throws {
        var opts = SpawnOptions(path: "/bin/sh", arguments: ["sh", "-c", "exit 7"], environment: [])
        opts.fds = [(.standardInput, .standardInput), (.standardOutput, .standardOutput), (.standardError, .standardError)]
        let pid = try Spawner.spawn(opts)
        XCTAssertTrue(turn(until: { self.reaper.hasUnclaimedExit(pid) }))
        var got: Termination?
        reaper.onExit(of: pid) { got = $0 }
        XCTAssertTrue(turn(until: { got != nil }))
        XCTAssertEqual(got, .exited(7))
    }
}
