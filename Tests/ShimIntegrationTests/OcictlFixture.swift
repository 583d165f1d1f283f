import Foundation
import Glibc
import XCTest

/// What the ocictl tests share: a state root of their own, busybox bundles,
/// container ids that teardown cleans up after (shim killed, runc state
/// deleted), and ocictl runs with stdin, environment and a deadline.
final class OcictlFixture {
    let dir: String
    let root: String
    static let runc = "/usr/sbin/runc"
    private let test: XCTestCase
    private var bundles = 0

    init(_ test: XCTestCase, prefix: String) throws {
        self.test = test
        dir = try TestSupport.makeTemporaryDirectory(prefix: prefix, for: test)
        root = dir + "/root"
    }

    /// A busybox bundle running `args` in a directory of its own.
    func bundle(_ args: [String], terminal: Bool = false,
                edit: ((inout [String: Any]) -> Void)? = nil) throws -> BusyboxBundle {
        bundles += 1
        let parent = dir + "/b\(bundles)"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        return try BusyboxBundle.make(in: parent, args: args, terminal: terminal, edit: edit)
    }

    /// A fresh container id; teardown kills its shim and deletes it from runc.
    func newID(_ name: String) -> String {
        let id = "\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        let dir = stateDir(id)
        test.addTeardownBlock {
            for pid in ProcessTable.pids(withArgument: dir) { kill(pid, SIGKILL) }
            _ = try? ProgramRun.run(Self.runc, ["delete", "--force", id], seconds: 30)
        }
        return id
    }

    func stateDir(_ id: String) -> String { root + "/" + id }

    /// `COMMAND --state-root <root> ARGS...`: the test's root, given the
    /// way every ocictl has taken it (the global `--root` has tests of its
    /// own), so these tests run against an older ocictl too.
    func withRoot(_ arguments: [String]) -> [String] {
        guard let command = arguments.first else { return arguments }
        return [command, "--state-root", root] + arguments.dropFirst()
    }

    /// `ocictl COMMAND --state-root <root> ARGS...` to its end.
    func ocictl(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                seconds: Double = 60, file: StaticString = #filePath, line: UInt = #line) throws -> ProgramRun {
        let run = try ProgramRun.run(try TestSupport.ocictl(), withRoot(arguments), stdin: stdin,
                                     environment: environment, seconds: seconds)
        XCTAssertTrue(run.reachedEOF, "ocictl \(arguments.joined(separator: " ")): its output did not reach EOF",
                      file: file, line: line)
        return run
    }

    func ocictl(_ arguments: String..., file: StaticString = #filePath, line: UInt = #line) throws -> ProgramRun {
        try ocictl(arguments, file: file, line: line)
    }

    /// create + start; returns the init's pid once state.json says running.
    @discardableResult
    func start(_ id: String, _ bundle: BusyboxBundle, _ extra: [String] = []) throws -> Int32 {
        let created = try ocictl(["create", "--bundle", bundle.path] + extra + [id])
        XCTAssertEqual(created.status, 0, created.stderr)
        let started = try ocictl("start", id)
        XCTAssertEqual(started.status, 0, started.stderr)
        XCTAssertTrue(TestSupport.eventually {
            ((try? String(contentsOfFile: self.stateDir(id) + "/state.json", encoding: .utf8)) ?? "").contains("\"status\":\"running\"")
        })
        return Int32(created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    func runcKnows(_ id: String) throws -> Bool {
        try ProgramRun.run(Self.runc, ["state", id], seconds: 30).status == 0
    }

    /// Nothing of `id` is left: no shim, no state dir, nothing in runc.
    func assertGone(_ id: String, _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = stateDir(id)
        XCTAssertTrue(TestSupport.eventually(10) { ProcessTable.pids(withArgument: dir).isEmpty },
                      "\(context): a process still serves \(dir)", file: file, line: line)
        XCTAssertTrue(TestSupport.eventually(10) { !FileManager.default.fileExists(atPath: dir) },
                      "\(context): \(dir) is left", file: file, line: line)
        XCTAssertFalse(try runcKnows(id), "\(context): runc still knows \(id)", file: file, line: line)
    }
}

/// A program running in the background for a test that signals it or reads
/// its output while it runs; `finish` collects the rest (at most `seconds`).
final class BackgroundProgram {
    let process = Process()
    private let out = Pipe(), err = Pipe(), input = Pipe()
    private(set) var stdout = ""
    private(set) var stderr = ""

    init(_ path: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Writes to its stdin; a program that has already exited (its pipe
    /// closed) fails the test that expected it to read, not the process.
    func write(_ text: String) {
        signal(SIGPIPE, SIG_IGN)
        do { try input.fileHandleForWriting.write(contentsOf: Data(text.utf8)) } catch {
            XCTFail("cannot write to \(process.executableURL?.path ?? "the program")'s stdin: \(error)")
        }
    }
    func closeStdin() { try? input.fileHandleForWriting.close() }

    /// Reads until stdout contains `text` (or `seconds` pass).
    func waitForOutput(_ text: String, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !stdout.contains(text) && Date() < deadline { readAvailable(millis: 100) }
        return stdout.contains(text)
    }

    /// Reads both pipes until EOF, then waits for the exit.
    func finish(seconds: Double = 60) -> (status: Int32, reachedEOF: Bool) {
        closeStdin()
        let deadline = Date().addingTimeInterval(seconds)
        while !(outEOF && errEOF) && Date() < deadline { readAvailable(millis: 100) }
        if !(outEOF && errEOF) && process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, outEOF && errEOF)
    }

    private var outEOF = false, errEOF = false

    private func readAvailable(millis: Int32) {
        let fds = [out.fileHandleForReading.fileDescriptor, err.fileHandleForReading.fileDescriptor]
        var polls = [pollfd(fd: outEOF ? -1 : fds[0], events: Int16(POLLIN), revents: 0),
                     pollfd(fd: errEOF ? -1 : fds[1], events: Int16(POLLIN), revents: 0)]
        guard poll(&polls, 2, millis) > 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        for i in 0..<2 where polls[i].revents != 0 {
            let n = read(fds[i], &chunk, chunk.count)
            if n > 0 {
                let text = String(decoding: chunk[0..<n], as: UTF8.self)
                if i == 0 { stdout += text } else { stderr += text }
            } else if n == 0 || errno != EINTR {
                if i == 0 { outEOF = true } else { errEOF = true }
            }
        }
    }
}
