import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// Exec and attach helpers on top of ShimHarness.
extension ShimHarness {
    /// A started container running `args` (default: sleep).
    @discardableResult
    func startContainer(_ args: [String] = ["/bin/sleep", "1000"], terminal: Bool = false,
                        edit: (inout Ocishim_V1_CreateRequest) -> Void = { _ in }) throws -> BusyboxBundle {
        let bundle = try BusyboxBundle.make(in: dir, args: args, terminal: terminal)
        try create(bundle) {
            $0.terminal = terminal
            edit(&$0)
        }
        _ = try start()
        return bundle
    }

    func execRequest(_ id: String, _ args: [String], _ edit: (inout Ocishim_V1_ExecRequest) -> Void = { _ in }) -> Ocishim_V1_ExecRequest {
        var req = Ocishim_V1_ExecRequest()
        req.execID = id
        req.args = args
        edit(&req)
        return req
    }

    func execSync(_ args: [String], timeout: UInt32 = 0, _ edit: (inout Ocishim_V1_ExecRequest) -> Void = { _ in }) throws -> Ocishim_V1_ExecSyncResponse {
        try call("ExecSync", Ocishim_V1_ExecSyncRequest.with {
            $0.exec = execRequest("", args, edit)
            $0.timeoutSeconds = timeout
        })
    }

    func execState(_ id: String) throws -> Ocishim_V1_ExecStateResponse {
        try call("ExecState", Ocishim_V1_ExecStateRequest.with { $0.execID = id })
    }

    /// Polls ExecState until the session has exited; returns its state.
    func waitExec(_ id: String, seconds: Double = 20) throws -> Ocishim_V1_ExecStateResponse {
        var state = try execState(id)
        let deadline = Date().addingTimeInterval(seconds)
        while state.running && Date() < deadline {
            usleep(20_000)
            state = try execState(id)
        }
        return state
    }

    /// Opens an Attach stream with these options.
    func attach(_ edit: (inout Ocishim_V1_AttachOptions) -> Void) throws -> ClientStream {
        var options = Ocishim_V1_AttachOptions()
        options.stdout = true
        options.stderr = true
        edit(&options)
        return try client.openStream("Attach", Ocishim_V1_AttachInput.with { $0.options = options })
    }

    /// The open fds of the shim.
    /// The shim's open fds, each as "fd -> what it is".
    func shimFDs() -> [String] {
        let dir = "/proc/\(shimPid)/fd"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().map { fd in
            "\(fd) -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + fd)) ?? "?")"
        }
    }

    /// VmRSS of the shim, in kB.
    func shimRSS() -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(shimPid)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }
}

/// Reads an attach stream until it ends; collects what came.
struct AttachTranscript {
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var exitCode: Int32?
    var detached = false
    var dropped: UInt64 = 0
    var ended = false

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }

    /// Reads messages until `until` holds or the stream ends (or the time passes).
    mutating func read(_ stream: ClientStream, seconds: Double = 20, until: (AttachTranscript) -> Bool = { _ in false }) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !ended && !until(self) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw TestSupport.SupportError("attach stream: timed out; so far stdout \(stdoutText.debugDescription)") }
            guard let message = try stream.next(Ocishim_V1_AttachOutput.self, timeoutSeconds: left) else {
                ended = true
                break
            }
            switch message.stream {
            case .stdout: stdout += message.data
            case .stderr: stderr += message.data
            default: break
            }
            dropped += message.dropped
            if message.exited { exitCode = message.exitCode }
            if message.detached { detached = true }
        }
    }
}
