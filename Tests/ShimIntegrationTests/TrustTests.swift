import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// What a shim must never do to others, whatever a client or a container
/// does: delete another container, hang on a file the container controls,
/// crash on a number, resolve a path against its own working directory, or
/// keep doing work nobody waits for.
final class TrustTests: XCTestCase {
    /// A second create of an id that runc already has must fail without
    /// touching the container that holds it (runc's "container with id
    /// exists" used to be followed by `runc delete --force <id>`).
    func testCreateOfATakenIDLeavesTheOtherContainerAlone() throws {
        let first = try ShimHarness(self, name: "dup")
        let bundle = try BusyboxBundle.make(in: first.dir, args: ["/bin/sleep", "1000"])
        try first.create(bundle)
        let started = try first.start()

        let second = try ShimHarness(self, id: first.id)
        let error = try second.failure("Create", second.createRequest(bundle))
        XCTAssertEqual(error?.code, .alreadyExists, error?.message ?? "no error")
        XCTAssertTrue(error?.message.contains("exists") ?? false, error?.message ?? "")
        XCTAssertEqual(try second.state().status, .none)

        XCTAssertTrue(ShimHarness.alive(started.pid), "the first container's init was killed")
        let (status, output) = try TestSupport.run("/usr/sbin/runc", ["state", first.id])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("\"running\""), output)
        XCTAssertEqual(try first.state().status, .running)
    }

    /// A container that turns its /etc/passwd into a FIFO must not freeze
    /// the shim. The shim's own user lookup refuses the FIFO at once; runc,
    /// which reads the file too (inside the container), may block on it,
    /// and meanwhile the shim goes on answering.
    func testPasswdAsAFIFODoesNotFreezeTheShim() throws {
        let shim = try ShimHarness(self, name: "fifo")
        shim.client.timeoutSeconds = 20
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        // runc reads the file too when it creates the container: the FIFO
        // comes once the container runs, as a container would swap it in.
        try shim.create(bundle)
        _ = try shim.start()
        let passwd = bundle.rootfs + "/etc/passwd"
        try FileManager.default.removeItem(atPath: passwd)
        XCTAssertEqual(mkfifo(passwd, 0o644), 0)

        let named = try shim.failure("ExecSync", Ocishim_V1_ExecSyncRequest.with {
            $0.exec.args = ["/bin/true"]
            $0.exec.user = "somebody"
            $0.timeoutSeconds = 10
        })
        XCTAssertEqual(named?.code, .invalidArgument)
        XCTAssertTrue(named?.message.contains("not a regular file (a FIFO)") ?? false, named?.message ?? "")

        let request = Ocishim_V1_ExecSyncRequest.with {
            $0.exec.args = ["/bin/echo", "ok"]
            $0.timeoutSeconds = 30
        }
        let exec = try shim.client.sendRequest("ExecSync", payload: try request.serializedBytes(), flags: [])
        XCTAssertEqual(try shim.state().status, .running, "the shim answers while the exec is pending")
        // Whoever reads the FIFO (runc, in the container) gets EOF: an
        // empty passwd.
        _ = TestSupport.eventually(5) {
            let fd = open(passwd, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            return fd >= 0
        }
        let frame = try shim.client.nextFrame(of: exec, what: "ExecSync", timeoutSeconds: 30)
        let response = try Ttrpc_Response(serializedBytes: frame.payload)
        XCTAssertEqual(response.status.code, 0, response.status.message)
        let answer = try Ocishim_V1_ExecSyncResponse(serializedBytes: response.payload)
        XCTAssertEqual(String(decoding: answer.stdout, as: UTF8.self), "ok\n")
    }

    /// /etc/passwd as a symlink to a file outside the rootfs: the user is
    /// looked up inside the container only.
    func testPasswdSymlinkNeverReachesTheHost() throws {
        let shim = try ShimHarness(self, name: "link")
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        let hostFile = shim.dir + "/host-passwd"
        try "hostonly:x:4242:4242::/h:/bin/sh\n".write(toFile: hostFile, atomically: true, encoding: .utf8)
        let passwd = bundle.rootfs + "/etc/passwd"
        try? FileManager.default.removeItem(atPath: passwd)
        let climb = String(repeating: "../", count: 30)
        XCTAssertEqual(symlink(climb + String(hostFile.dropFirst()), passwd), 0)
        try shim.create(bundle)
        _ = try shim.start()
        let error = try shim.failure("ExecSync", Ocishim_V1_ExecSyncRequest.with {
            $0.exec.args = ["/bin/true"]
            $0.exec.user = "hostonly"
            $0.timeoutSeconds = 10
        })
        XCTAssertEqual(error?.code, .invalidArgument, "the host's passwd was read")
    }

    /// A config.json that is a FIFO fails Create at once.
    func testConfigJSONAsAFIFOFailsCreate() throws {
        let shim = try ShimHarness(self, name: "cfg")
        shim.client.timeoutSeconds = 20
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        try FileManager.default.removeItem(atPath: bundle.configPath)
        XCTAssertEqual(mkfifo(bundle.configPath, 0o644), 0)
        let error = try shim.failure("Create", shim.createRequest(bundle))
        XCTAssertEqual(error?.code, .invalidArgument)
        XCTAssertTrue(error?.message.contains("not a regular file (a FIFO)") ?? false, error?.message ?? "")
        XCTAssertEqual(try shim.state().status, .none)
    }

    /// The log path must not be a symlink (the shim would write wherever it
    /// points) nor a FIFO (the shim would block opening it).
    func testLogPathThatIsASymlinkOrAFIFOIsRefused() throws {
        let shim = try ShimHarness(self, name: "logs")
        shim.client.timeoutSeconds = 20
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        let target = shim.dir + "/precious"
        try "keep me\n".write(toFile: target, atomically: true, encoding: .utf8)
        let link = shim.dir + "/link.log"
        XCTAssertEqual(symlink(target, link), 0)
        let fifo = shim.dir + "/fifo.log"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for path in [link, fifo] {
            let error = try shim.failure("Create", shim.createRequest(bundle) {
                $0.log.drivers = [.with { $0.driver = "k8s-file"; $0.path = path }]
            })
            XCTAssertEqual(error?.code, .invalidArgument, "\(path): \(error?.message ?? "no error")")
        }
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "keep me\n")
        XCTAssertEqual(try shim.state().status, .none)
    }

    /// timeout_nano at its maximum used to overflow the deadline and trap.
    func testHugeDeadlinesDoNotCrashTheShim() throws {
        let shim = try ShimHarness(self, name: "deadline")
        for timeout in [Int64.max, Int64.max - 1, 1 << 62] {
            let id = try shim.client.sendRequest("Hello", payload: [], flags: [], timeoutNanos: timeout)
            let frame = try shim.client.nextFrame(of: id, what: "Hello", timeoutSeconds: 10)
            let response = try Ttrpc_Response(serializedBytes: frame.payload)
            XCTAssertEqual(response.status.code, 0, "timeout_nano \(timeout)")
        }
        XCTAssertTrue(ShimHarness.alive(shim.shimPid))
        let hello: Ocishim_V1_HelloResponse = try shim.call("Hello", Ocishim_V1_HelloRequest())
        XCTAssertEqual(hello.shimPid, shim.shimPid)
    }

    /// An ExecSync whose deadline passes is cancelled: the engine got
    /// DEADLINE_EXCEEDED and nobody will read the output, so the process is
    /// killed instead of running on.
    func testExecSyncPastItsDeadlineIsKilled() throws {
        let shim = try ShimHarness(self, name: "cancel")
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        _ = try shim.start()
        let marker = "7\(Int.random(in: 100_000...999_999))"
        let request = Ocishim_V1_ExecSyncRequest.with { $0.exec.args = ["/bin/sleep", marker] }
        let id = try shim.client.sendRequest("ExecSync", payload: try request.serializedBytes(), flags: [],
                                             timeoutNanos: 1_500_000_000)
        let frame = try shim.client.nextFrame(of: id, what: "ExecSync", timeoutSeconds: 20)
        let response = try Ttrpc_Response(serializedBytes: frame.payload)
        XCTAssertEqual(response.status.code, Int32(RPCCode.deadlineExceeded.rawValue))
        XCTAssertTrue(shim.eventually { Self.processes(withArgument: marker).isEmpty },
                      "the exec process outlived its call: \(Self.processes(withArgument: marker))")
        XCTAssertEqual(try shim.state().status, .running)
    }

    /// Paths in Create are the engine's: a relative one is refused, not
    /// resolved against the shim's own working directory.
    func testRelativePathsInCreateAreRefused() throws {
        let shim = try ShimHarness(self, name: "rel")
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        let cases: [(String, (inout Ocishim_V1_CreateRequest) -> Void)] = [
            ("bundle", { $0.bundle = "bundle" }),
            ("log path", { $0.log.drivers = [.with { $0.driver = "k8s-file"; $0.path = "ctr.log" }] }),
            ("exit dir", { $0.exitDir = "exits" }),
            ("pid file", { $0.pidFile = "ctr.pid" }),
        ]
        for (field, edit) in cases {
            let error = try shim.failure("Create", shim.createRequest(bundle, edit))
            XCTAssertEqual(error?.code, .invalidArgument, field)
            XCTAssertTrue(error?.message.contains("the \(field) must be absolute") ?? false, error?.message ?? "")
        }
        XCTAssertEqual(try shim.state().status, .none)
    }

    /// Pids of processes with `argument` in their command line.
    static func processes(withArgument argument: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
        }
    }
}
