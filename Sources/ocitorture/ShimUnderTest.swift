import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem
import SystemPackage
import SwiftProtobuf

/// One `ocishim serve` started the way an engine starts it (its stdio is the
/// engine's connection), with its stderr in a file of its own so that a
/// crash's message can be shown. Its pid, its container id and the runtime
/// container are registered for cleanup.
final class ShimUnderTest {
    let lab: Lab
    let id: String
    let stateDir: String
    let stderrPath: String
    let client: ShimClient
    let pid: pid_t
    /// The shim's start time: `pid` is this shim only while it matches.
    let started: UInt64?

    /// `directory`: the shim's working directory (inherited from its spawn).
    init(_ lab: Lab, tag: String, id: String? = nil, stateDir: String? = nil, directory: String? = nil,
         extraArguments: [String] = []) throws {
        self.lab = lab
        self.id = id ?? lab.uniqueID(tag)
        let home = try lab.directory("shim-\(tag)")
        self.stateDir = stateDir ?? home + "/state"
        stderrPath = home + "/shim.stderr"
        lab.cleanup.container(self.id)

        let toShim = try Pipe.make()
        let fromShim = try Pipe.make()
        let errFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(errFD) }
        var options = SpawnOptions(path: lab.shim,
                                   arguments: [lab.shim, "serve", "--id", self.id, "--state-dir", self.stateDir] + extraArguments,
                                   environment: ProcessEnvironment.current(), directory: directory)
        options.fds = [(.standardInput, toShim.read), (.standardOutput, fromShim.write), (.standardError, FileDescriptor(rawValue: errFD))]
        let first: pid_t
        do { first = try Spawner.spawn(options) } catch {
            for fd in [toShim.read, toShim.write, fromShim.read, fromShim.write] { try? fd.close() }
            throw TortureError("cannot start \(lab.shim): \(error)")
        }
        try? toShim.read.close()
        try? fromShim.write.close()
        lab.reaper.track(first)
        let connection = FrameConnection(readFD: fromShim.read, writeFD: toShim.write)
        guard let end = lab.reaper.wait(first, seconds: 10), end == .exited(0) else {
            connection.close()
            throw TortureError("ocishim serve did not detach cleanly; stderr: \(Self.tail(stderrPath))")
        }
        client = ShimClient(connection: connection)
        client.timeoutSeconds = 30
        let hello: Ocishim_V1_HelloResponse = try client.call("Hello", Ocishim_V1_HelloRequest.with { $0.client = "ocitorture" })
        pid = hello.shimPid
        lab.reaper.track(pid)
        started = ProcInfo.startTime(pid)
        lab.cleanup.process(pid)
    }

    // --- the container ----------------------------------------------------------

    func createRequest(bundle: String, _ edit: (inout Ocishim_V1_CreateRequest) -> Void = { _ in }) -> Ocishim_V1_CreateRequest {
        var request = Ocishim_V1_CreateRequest()
        request.id = id
        request.bundle = bundle
        request.terminal = false
        edit(&request)
        return request
    }

    @discardableResult
    func create(bundle: String, _ edit: (inout Ocishim_V1_CreateRequest) -> Void = { _ in }) throws -> Ocishim_V1_CreateResponse {
        try client.call("Create", createRequest(bundle: bundle, edit))
    }

    @discardableResult
    func start() throws -> Ocishim_V1_StartResponse { try client.call("Start", Ocishim_V1_StartRequest()) }

    /// Create + Start.
    func run(bundle: String, _ edit: (inout Ocishim_V1_CreateRequest) -> Void = { _ in }) throws {
        try create(bundle: bundle, edit)
        try start()
    }

    // --- other connections --------------------------------------------------------

    /// A new client on `<state-dir>/shim.sock`.
    func connect(timeoutSeconds: Double = 10) throws -> ShimClient {
        let c = try ShimClient.connect(stateDir: stateDir)
        c.timeoutSeconds = timeoutSeconds
        return c
    }

    /// State over a fresh socket connection, answered within `seconds`.
    func state(within seconds: Double = 5) -> Result<Ocishim_V1_StateResponse, ClientError> {
        do {
            let c = try connect(timeoutSeconds: seconds)
            defer { c.close() }
            let s: Ocishim_V1_StateResponse = try c.call("State", Ocishim_V1_StateRequest())
            return .success(s)
        } catch let error as ClientError {
            return .failure(error)
        } catch {
            return .failure(.protocolViolation("\(error)"))
        }
    }

    /// Hello and State both answered over a fresh socket connection.
    func answers(within seconds: Double = 5) -> String? {
        do {
            let c = try connect(timeoutSeconds: seconds)
            defer { c.close() }
            let _: Ocishim_V1_HelloResponse = try c.call("Hello", Ocishim_V1_HelloRequest())
            let _: Ocishim_V1_StateResponse = try c.call("State", Ocishim_V1_StateRequest())
            return nil
        } catch {
            return "\(error)"
        }
    }

    // --- the process ----------------------------------------------------------------

    var isAlive: Bool { lab.reaper.alive(pid) && ProcInfo.startTime(pid) == started }
    var termination: Termination? { lab.reaper.termination(of: pid) }
    var fdCount: Int { ProcInfo.fdCount(pid) ?? -1 }
    var rssKB: Int { ProcInfo.rssKB(pid) ?? -1 }

    /// The RSS once the shim has had its idle release: polled until it is
    /// at most `bound` kB or `seconds` have passed. A shim woken soon after
    /// each quiet spell waits up to 8 idle delays (8 s) before its next
    /// release (EventLoop's adaptive idle delay), so one quiet second is not
    /// enough to see memory given back.
    func rssAfterIdleRelease(atMost bound: Int, seconds: Double = 10) -> Int {
        let deadline = Clock.monotonicNanos() + Clock.nanos(fromSeconds: seconds)
        var rss = rssKB
        while rss > bound && Clock.monotonicNanos() < deadline {
            usleep(250_000)
            rss = rssKB
        }
        return rss
    }
    var zombies: [pid_t] { ProcInfo.zombies(of: pid) }

    /// Why the shim is gone, with the end of its stderr (a trap's message).
    func describeEnd() -> String {
        let how = termination.map { "\($0)" + Self.signalName($0) } ?? (isAlive ? "still running" : "gone")
        let err = Self.tail(stderrPath)
        return err.isEmpty ? how : "\(how); its stderr ends with: \(err)"
    }

    /// How it ended, and where, from the Swift runtime's backtrace on its
    /// stderr: "killed by signal 4 (SIGILL): Swift runtime failure:
    /// arithmetic overflow in EventLoop.schedule(afterNanos:_:) at
    /// Sources/ShimSystem/EventLoop.swift:103". The same for every crash at
    /// the same place, so crashes can be grouped.
    var crashSummary: String {
        let how = termination.map { "\($0)" + Self.signalName($0) } ?? (isAlive ? "still running" : "gone")
        guard let text = try? String(contentsOfFile: stderrPath, encoding: .utf8) else { return how }
        let lines = text.split(separator: "\n").map(String.init)
        var what = lines.first { $0.contains("Swift runtime failure:") || $0.contains("Fatal error:") }?
            .replacingOccurrences(of: "*** ", with: "").replacingOccurrences(of: " ***", with: "")
            .trimmingCharacters(in: .whitespaces)
        if let frame = lines.first(where: { $0.contains(" at /") && !$0.contains("[system]") && $0.contains(" in ") }),
           let plus = frame.range(of: " + "), let at = frame.range(of: " at /", options: .backwards) {
            var place = String(frame[at.upperBound...])
            if let sources = place.range(of: "Sources/") { place = String(place[sources.lowerBound...]) }
            place = place.split(separator: ":").prefix(2).joined(separator: ":")
            what = (what ?? "crashed") + " in \(Self.functionName(frame, before: plus.lowerBound)) at \(place)"
        }
        return what.map { "\(how): \($0)" } ?? describeEnd()
    }

    /// The symbol of a backtrace frame ("0x... EventLoop.schedule(afterNanos:_:) + 1365 in ...").
    private static func functionName(_ frame: String, before end: String.Index) -> String {
        let head = frame[..<end]
        guard let address = head.range(of: "0x") else { return String(head) }
        let afterAddress = head[address.upperBound...].drop { $0 != " " }
        return afterAddress.trimmingCharacters(in: .whitespaces)
    }

    static func signalName(_ end: Termination) -> String {
        guard case .signaled(let sig) = end else { return "" }
        let names: [Int32: String] = [SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT",
                                      SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM"]
        return names[sig].map { " (\($0))" } ?? ""
    }

    /// A crash: ended by a signal the suite did not send, or a non-zero exit.
    var crashed: Bool {
        guard let end = termination else { return false }
        if case .signaled(let sig) = end { return sig != SIGKILL }
        return end != .exited(0)
    }

    static func tail(_ path: String, lines: Int = 3) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(lines).joined(separator: " | ")
    }

    /// Ends the container and the shim: Delete(force) when the shim answers,
    /// then SIGKILL and the runtime's delete for whatever is left.
    /// `ask: false` for a shim that stopped answering.
    func destroy(ask: Bool = true) {
        if ask, isAlive, let c = try? connect(timeoutSeconds: 10) {
            let deleted: Ocishim_V1_DeleteResponse? = try? c.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
            c.close()
            // Without a container and without clients the shim exits by itself.
            client.close()
            _ = lab.reaper.wait(pid, seconds: deleted != nil ? 5 : 1)
        }
        client.close()
        if isAlive { lab.reaper.kill(pid) }  // isAlive: still this shim
        if lab.runtimeStatus(id) != nil { _ = lab.runc(["delete", "--force", id]) }
    }
}
