import Foundation
import Glibc
import ShimClient
import ShimProtocol
import SwiftProtobuf
import XCTest

/// A real `ocishim serve` for one test, talking over its stdio, with a fresh
/// state directory and container id. Teardown removes every trace: the
/// runtime's container, the shim process, the directories.
final class ShimHarness {
    let id: String
    let dir: String
    let stateDir: String
    let client: ShimClient
    private(set) var shimPid: Int32 = 0

    /// `id`: a given container id (restoring a checkpointed one), else a fresh one.
    init(_ test: XCTestCase, name: String = "c", id: String? = nil, serveArgs: [String] = []) throws {
        self.id = id ?? "\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        dir = try TestSupport.makeTemporaryDirectory(prefix: "ocishim-it", for: test)
        stateDir = dir + "/state"
        client = try ShimClient.spawn(shim: try TestSupport.ocishim(),
                                      arguments: ["--id", self.id, "--state-dir", stateDir, "--log-level", "debug"] + serveArgs)
        client.timeoutSeconds = 60
        let hello: Ocishim_V1_HelloResponse = try client.call("Hello", Ocishim_V1_HelloRequest.with { $0.client = "tests" })
        shimPid = hello.shimPid
        let id = self.id, pid = shimPid
        test.addTeardownBlock {
            _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id])
            if pid > 0 && kill(pid, 0) == 0 {
                kill(pid, SIGKILL)
            }
        }
    }

    func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, _ request: Request, as: Response.Type = Response.self
    ) throws -> Response {
        try client.call(method, request)
    }

    /// The error of a call expected to fail; nil if it succeeded.
    func failure<Request: SwiftProtobuf.Message>(_ method: String, _ request: Request) throws -> RPCError? {
        let response = try client.callRaw(method, payload: try request.serializedBytes())
        return RPCError(status: response.status)
    }

    func createRequest(_ bundle: BusyboxBundle, _ edit: (inout Ocishim_V1_CreateRequest) -> Void = { _ in }) -> Ocishim_V1_CreateRequest {
        var req = Ocishim_V1_CreateRequest()
        req.id = id
        req.bundle = bundle.path
        edit(&req)
        return req
    }

    @discardableResult
    func create(_ bundle: BusyboxBundle, _ edit: (inout Ocishim_V1_CreateRequest) -> Void = { _ in }) throws -> Ocishim_V1_CreateResponse {
        try call("Create", createRequest(bundle, edit))
    }

    func start() throws -> Ocishim_V1_StartResponse { try call("Start", Ocishim_V1_StartRequest()) }
    func state(refresh: Bool = false) throws -> Ocishim_V1_StateResponse {
        try call("State", Ocishim_V1_StateRequest.with { $0.refresh = refresh })
    }
    func wait() throws -> Ocishim_V1_WaitResponse { try call("Wait", Ocishim_V1_WaitRequest()) }

    /// The default k8s-file log of the container.
    var logPath: String { stateDir + "/ctr.log" }

    /// The content of each k8s-file record, joined (P records continue lines).
    func logText(_ path: String? = nil) throws -> String {
        let raw = try String(contentsOfFile: path ?? logPath, encoding: .utf8)
        var text = ""
        for line in raw.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            text += parts.count == 4 ? String(parts[3]) : ""
            if parts[2] == "F" { text += "\n" }
        }
        return text
    }

    /// Polls `condition` for up to `seconds`.
    func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        try TestSupport.eventually(seconds, condition)
    }

    /// Whether a process exists (not a zombie).
    static func alive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")
    }

    /// Zombie children of the shim.
    func zombies() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            return fields.count > 2 && fields[0] == "Z" && Int32(fields[1]) == shimPid
        }
    }
}
