import Foundation
import Glibc
import ShimSystem

/// `out=$(ocictl create ... 2>&1)`: ocictl's stdout and stderr are a pipe,
/// as an engine that waits for its child's output (Go's exec.Cmd) has
/// them. The pipe must reach EOF once ocictl exits: the detached shim must
/// not keep it (issue "Trust defects" item 6).
enum DetachedStdio {
    static func run(_ lab: Lab, _ report: Report) throws {
        let root = try lab.directory("detached")
        let id = lab.uniqueID("stdio")
        lab.cleanup.container(id)
        let bundle = try lab.bundle(["sleep", "1000000"])
        let made = try Pipe.make()
        let pipe = (read: made.read.rawValue, write: made.write.rawValue)
        var options = SpawnOptions(path: lab.ocictl, arguments: [lab.ocictl, "create", "--state-root", root, "--bundle", bundle, id],
                                   environment: lab.ocictlEnvironment)
        options.fds = SpawnOptions.fdTable([(0, Commands.devNull), (1, pipe.write), (2, pipe.write)])
        let pid = try Spawner.spawn(options)
        lab.cleanup.process(pid)
        close(pipe.write)
        var st = stat()
        fstat(pipe.read, &st)
        let pipeName = "pipe:[\(st.st_ino)]"
        defer {
            close(pipe.read)
            _ = lab.ocictl(["rm", "--force", "--state-root", root, id])
        }

        let began = Clock.monotonicNanos()
        let bound = lab.scaled(5.0, 10.0)
        var output: [UInt8] = []
        var ocictlExit: (Termination, Double)?
        var eof: Double?
        var buffer = [UInt8](repeating: 0, count: 4096)
        while seconds(since: began) < bound + (ocictlExit?.1 ?? 0) {
            if ocictlExit == nil, let end = lab.reaper.termination(of: pid) { ocictlExit = (end, seconds(since: began)) }
            var pfd = pollfd(fd: pipe.read, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(pipe.read, $0.baseAddress, $0.count) }
            if n <= 0 { eof = seconds(since: began); break }
            output += buffer[0..<n]
        }
        if ocictlExit == nil, let end = lab.reaper.wait(pid, seconds: 5) { ocictlExit = (end, seconds(since: began)) }
        let shimPid = lab.shimPid(root + "/" + id) ?? 0
        if shimPid > 0 { lab.cleanup.process(shimPid) }
        let holders = (0...2).filter { ProcInfo.fdTarget(shimPid, $0) == pipeName }

        report.tried("ocictl create with stdout and stderr on a pipe (as $(...) or | cat), reading until EOF")
        report.found("ocictl \(ocictlExit.map { "ended (\($0.0)) after \(String(format: "%.2f", $0.1)) s" } ?? "did not end") printing \(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).debugDescription); EOF \(eof.map { "after \(String(format: "%.2f", $0)) s" } ?? "not within \(Int(bound)) s after that"); the shim's fds 0-2: \((0...2).map { ProcInfo.fdTarget(shimPid, $0) ?? "-" }.joined(separator: ", "))")
        report.expect(ocictlExit?.0 == .exited(0), "ocictl create succeeds")
        report.expect(eof != nil, "the pipe reaches EOF once ocictl has exited")
        report.expect(holders.isEmpty, "the detached shim holds no end of its spawner's pipe" + (holders.isEmpty ? "" : " (its fds \(holders.map(String.init).joined(separator: ", ")))"))
    }
}
