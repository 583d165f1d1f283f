import Foundation
import XCTest

/// A copy of Tests/Fixtures/fake-runtime in a scratch directory (see the
/// script's header): records its invocations, fails on demand, fakes
/// checkpoint and restore, and, as a wrapper, hands everything else to the
/// real runc.
struct FakeRuntime {
    static let realRunc = "/usr/sbin/runc"
    let dir: String
    var path: String { dir + "/fake-runtime" }

    /// `wrapping`: the real runtime for the subcommands the fake does not
    /// handle; nil for a runtime that is fake through and through.
    static func install(in parent: String, wrapping real: String? = realRunc) throws -> FakeRuntime {
        let dir = parent + "/fake-runtime.d"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fixture = TestSupport.packageRoot.appendingPathComponent("Tests/Fixtures/fake-runtime").path
        let fake = FakeRuntime(dir: dir)
        try FileManager.default.copyItem(atPath: fixture, toPath: fake.path)
        if let real { try fake.write("real-runtime", real) }
        return fake
    }

    /// `ocishim serve` options that make the shim drive this runtime with
    /// JSON error logs (--log FILE --log-format json), as it does runc.
    var serveArgs: [String] { ["--runtime", path, "--runtime-supports-json", "fake-runtime"] }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }

    /// The next `command` fails with `message` as the runtime's JSON error.
    func fail(_ command: String, message: String) throws { try write("fail-\(command)", message) }

    /// Lets a restored process finish.
    func release() throws { try write("release", "") }

    /// Each invocation's arguments after the runtime path.
    func invocations() -> [[String]] {
        let text = (try? String(contentsOfFile: dir + "/args.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    /// The subcommand and what follows it in the last invocation of
    /// `command` (the global options before it dropped).
    func lastInvocation(of command: String) -> [String]? {
        invocations().compactMap { Self.subcommand(of: $0) }.last { $0.first == command }
    }

    /// The global options (before the subcommand) of the last `command`.
    func globalOptions(of command: String) -> [String]? {
        guard let args = invocations().last(where: { Self.subcommand(of: $0)?.first == command }) else { return nil }
        return Array(args.prefix(args.count - (Self.subcommand(of: args)?.count ?? 0)))
    }

    private static func subcommand(of args: [String]) -> [String]? {
        var i = 0
        while i < args.count {
            switch args[i] {
            case "--root", "--log", "--log-format", "--criu", "--rootless": i += 2
            case let a where a.hasPrefix("-"): i += 1
            default: return Array(args[i...])
            }
        }
        return nil
    }

    /// The pid of the process the fake started for `id` (restore).
    func processPid(of id: String) -> Int32? {
        (try? String(contentsOfFile: "\(dir)/\(id).pid", encoding: .utf8)).flatMap { Int32($0) }
    }
}
