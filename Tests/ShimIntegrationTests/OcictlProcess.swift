import Foundation
import Glibc
import XCTest

/// ocictl (or any program) run to its end for a test, its stdout and stderr
/// on pipes read until EOF, at most `seconds`: a process it leaves behind
/// that still holds either pipe shows as `reachedEOF == false` instead of
/// hanging the test.
struct ProgramRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var reachedEOF: Bool

    static func ocictl(_ arguments: [String], seconds: Double = 120) throws -> ProgramRun {
        try run(try TestSupport.ocictl(), arguments, seconds: seconds)
    }

    /// `stdin`: the text on its stdin (a pipe closed after it), else
    /// /dev/null. `environment` is added to this process's.
    static func run(_ path: String, _ arguments: [String], stdin: String? = nil,
                    environment: [String: String] = [:], seconds: Double = 120) throws -> ProgramRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle(forReadingAtPath: "/dev/null") : input
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let stdin {
            // Small texts: the pipe takes them whole. A program that exited
            // without reading shows in its status, not as SIGPIPE here.
            signal(SIGPIPE, SIG_IGN)
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        var fds = [out.fileHandleForReading.fileDescriptor, err.fileHandleForReading.fileDescriptor]
        var bytes: [[UInt8]] = [[], []]
        let deadline = Date().addingTimeInterval(seconds)
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while fds.contains(where: { $0 >= 0 }) {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { break }
            var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&polls, 2, Int32(left * 1000) + 1) <= 0 { continue }
            for i in 0..<2 where polls[i].revents != 0 {
                let n = read(fds[i], &chunk, chunk.count)
                if n > 0 { bytes[i] += chunk[0..<n] } else if n == 0 || errno != EINTR { fds[i] = -1 }
            }
        }
        let reachedEOF = !fds.contains { $0 >= 0 }
        if !reachedEOF && process.isRunning { process.terminate() }
        process.waitUntilExit()
        return ProgramRun(status: process.terminationStatus, stdout: String(decoding: bytes[0], as: UTF8.self),
                          stderr: String(decoding: bytes[1], as: UTF8.self), reachedEOF: reachedEOF)
    }
}

/// Processes seen through /proc, for tests that must prove nothing is left.
enum ProcessTable {
    /// Live (not zombie) processes with `argument` as one of their argv
    /// elements, e.g. the shim serving a state dir (`--state-dir <dir>`).
    static func pids(withArgument argument: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return argv.contains(argument) && ShimHarness.alive(pid)
        }
    }
}
