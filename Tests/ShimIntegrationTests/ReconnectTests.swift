import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// Engines come and go; the shim, the container, its log and its exit code stay.
final class ReconnectTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = try TestSupport.makeTemporaryDirectory(prefix: "ocishim-reconnect", for: self)
    }

    private func ocictl(_ args: [String]) throws -> (status: Int32, output: String) {
        try TestSupport.run(try TestSupport.ocictl(), args)
    }

    private func stateDir(_ id: String) -> String { root + "/state/" + id }

    private func cleanup(_ id: String) {
        addTeardownBlock { [root] in
            if let client = try? ShimClient.connect(stateDir: root + "/state/" + id) {
                let _: Ocishim_V1_ShutdownResponse? = try? client.call("Shutdown", Ocishim_V1_ShutdownRequest.with { $0.force = true })
            }
            _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id])
        }
    }

    private func shimPid(_ id: String) throws -> Int32 {
        let text = try String(contentsOfFile: stateDir(id) + "/shim.pid", encoding: .utf8)
        return try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func testEngineKilledMidStream() throws {
        let id = "engine-\(getpid())"
        cleanup(id)
        let bundle = try BusyboxBundle.make(in: root, args: ["/bin/sh", "-c", "i=1; while [ $i -le 400 ]; do echo line $i; i=$((i+1)); sleep 0.005; done"])
        // The engine: `ocictl run` spawned the shim and follows the output.
        let engine = Process()
        engine.executableURL = URL(fileURLWithPath: try TestSupport.ocictl())
        engine.arguments = ["run", "--state-root", root + "/state", "--bundle", bundle.path, id]
        engine.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try engine.run()
        XCTAssertTrue(TestSupport.eventually { (try? String(contentsOfFile: self.stateDir(id) + "/ctr.log", encoding: .utf8))?.contains("line 20\n") ?? false })
        kill(engine.processIdentifier, SIGKILL)
        engine.waitUntilExit()

        let shim = try shimPid(id)
        XCTAssertTrue(ShimHarness.alive(shim), "the shim outlives its engine")
        let client = try ShimClient.connect(stateDir: stateDir(id))
        let state: Ocishim_V1_StateResponse = try client.call("State", Ocishim_V1_StateRequest())
        XCTAssertEqual(state.status, .running, "the container keeps running")
        let exit: Ocishim_V1_WaitResponse = try client.call("Wait", Ocishim_V1_WaitRequest())
        XCTAssertEqual(exit.exitCode, 0)
        let harness = try logLines(stateDir(id) + "/ctr.log")
        XCTAssertEqual(harness, (1...400).map { "line \($0)" }, "every line is in the log, in order")
        let _: Ocishim_V1_DeleteResponse = try client.call("Delete", Ocishim_V1_DeleteRequest())
    }

    func testExitWhileNoEngineIsSeenLater() throws {
        let id = "noengine-\(getpid())"
        cleanup(id)
        let bundle = try BusyboxBundle.make(in: root, args: ["/bin/sh", "-c", "sleep 0.3; exit 5"])
        XCTAssertEqual(try ocictl(["create", "--state-root", root + "/state", "--bundle", bundle.path, id]).status, 0)
        XCTAssertEqual(try ocictl(["start", "--state-root", root + "/state", id]).status, 0)
        // Nobody is connected while the container exits.
        XCTAssertTrue(TestSupport.eventually { (try? String(contentsOfFile: self.stateDir(id) + "/exits/" + id, encoding: .utf8)) == "5" })
        let client = try ShimClient.connect(stateDir: stateDir(id))
        let exit: Ocishim_V1_WaitResponse = try client.call("Wait", Ocishim_V1_WaitRequest())
        XCTAssertEqual(exit.exitCode, 5)
        XCTAssertGreaterThan(exit.finishedAt, 0)
        let state: Ocishim_V1_StateResponse = try client.call("State", Ocishim_V1_StateRequest())
        XCTAssertEqual(state.status, .stopped)
        XCTAssertEqual(state.exitCode, 5)
        XCTAssertEqual(state.finishedAt, exit.finishedAt)
        let events = try client.openStream("Events", Ocishim_V1_EventsRequest.with { $0.noFollow = true })
        var exited: Ocishim_V1_Event?
        while let event = try events.next(Ocishim_V1_Event.self, timeoutSeconds: 5) {
            if event.type == .exited { exited = event }
        }
        XCTAssertEqual(exited?.exitCode, 5, "the events stream replays the exit")
        let _: Ocishim_V1_DeleteResponse = try client.call("Delete", Ocishim_V1_DeleteRequest())
    }

    /// 50 cycles of connect, Hello, SIGKILL the client: the shim's open fds
    /// stay where they were after warming up, and its RSS grows by less than
    /// 256 KiB.
    func testFiftyReconnectCyclesLeaveFdsAndMemoryFlat() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        _ = try shim.start()
        func cycle() throws {
            let bridge = Process()
            bridge.executableURL = URL(fileURLWithPath: try TestSupport.ocishim())
            bridge.arguments = ["connect", shim.stateDir]
            let input = Pipe(), output = Pipe()
            bridge.standardInput = input
            bridge.standardOutput = output
            try bridge.run()
            try input.fileHandleForWriting.write(contentsOf: Data(helloFrame()))
            let header = try readExactly(output.fileHandleForReading, 10)
            XCTAssertEqual(header[8], FrameType.response.rawValue)
            kill(bridge.processIdentifier, SIGKILL)
            bridge.waitUntilExit()
        }
        for _ in 0..<5 { try cycle() }
        usleep(100_000)
        let fdsBefore = fdCount(shim.shimPid), rssBefore = rssKiB(shim.shimPid)
        for _ in 0..<50 { try cycle() }
        XCTAssertTrue(shim.eventually(5) { self.fdCount(shim.shimPid) == fdsBefore },
                      "open fds: \(fdsBefore) before, \(fdCount(shim.shimPid)) after 50 cycles")
        XCTAssertLessThan(rssKiB(shim.shimPid) - rssBefore, 256, "RSS grew from \(rssBefore) KiB to \(rssKiB(shim.shimPid)) KiB")
        XCTAssertEqual(try shim.state().status, .running)
    }

    func testTheShimLeadsItsOwnSessionAndProcessGroup() throws {
        let shim = try ShimHarness(self)
        let fields = try procStat(shim.shimPid)
        XCTAssertNotEqual(fields.pgrp, getpgrp(), "not in the engine's process group")
        XCTAssertNotEqual(fields.session, getsid(0), "not in the engine's session")
        XCTAssertEqual(fields.session, shim.shimPid, "it leads its session")
        XCTAssertNotEqual(fields.ppid, getpid(), "the engine has no shim child to reap")
    }

    func testSocketIsPrivateAndOtherUsersAreRefused() throws {
        let shim = try ShimHarness(self)
        let socket = shim.stateDir + "/shim.sock"
        var st = stat()
        XCTAssertEqual(stat(socket, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("setpriv (util-linux) is not installed: cannot run a client as another user")
        }
        // Open the file system path to everyone: the uid check must still refuse.
        chmod(shim.dir, 0o755)
        chmod(shim.stateDir, 0o755)
        chmod(socket, 0o666)
        let shimBinary = try TestSupport.ocishim()
        var dir = (shimBinary as NSString).deletingLastPathComponent
        while dir != "/" {
            chmod(dir, (try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as! Int16).asMode | 0o005)
            dir = (dir as NSString).deletingLastPathComponent
        }
        let bridge = Process()
        bridge.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        bridge.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", shimBinary, "connect", shim.stateDir]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        bridge.standardInput = input
        bridge.standardOutput = output
        bridge.standardError = errors
        try bridge.run()
        try? input.fileHandleForWriting.write(contentsOf: Data(helloFrame()))
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        bridge.waitUntilExit()
        // It ran as uid 65534 and its connect succeeded (the file mode was
        // opened above): the refusal is the shim's SO_PEERCRED check.
        XCTAssertNotEqual(bridge.terminationStatus, 126, complaint)
        XCTAssertNotEqual(bridge.terminationStatus, 127, complaint)
        XCTAssertFalse(complaint.contains("no shim answers"), complaint)
        XCTAssertEqual(answer.count, 0, "a client of uid 65534 gets no answer")
        // The shim is unharmed and still serves its own user.
        let client = try ShimClient.connect(stateDir: shim.stateDir)
        let hello: Ocishim_V1_HelloResponse = try client.call("Hello", Ocishim_V1_HelloRequest())
        XCTAssertEqual(hello.shimPid, shim.shimPid)
    }

    func testSeveralClientsAtOnceAllGetEvents() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sleep", "1000"])
        try shim.create(bundle)
        let other = try ShimClient.connect(stateDir: shim.stateDir)
        let streams = [try shim.client.openStream("Events", Ocishim_V1_EventsRequest()),
                       try other.openStream("Events", Ocishim_V1_EventsRequest())]
        _ = try shim.start()
        let state: Ocishim_V1_StateResponse = try other.call("State", Ocishim_V1_StateRequest())
        XCTAssertEqual(state.status, .running)
        let _: Ocishim_V1_KillResponse = try other.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = 9 })
        for stream in streams {
            var types: [Ocishim_V1_EventType] = []
            while let event = try stream.next(Ocishim_V1_Event.self, timeoutSeconds: 10) {
                types.append(event.type)
                if event.type == .exited { break }
            }
            XCTAssertEqual(types, [.created, .started, .exited])
        }
    }

    func testSigtermToTheShimGoesToTheContainer() throws {
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "trap 'exit 143' TERM; echo ready; while :; do sleep 0.05; done"])
        try shim.create(bundle)
        _ = try shim.start()
        XCTAssertTrue(try shim.eventually { try shim.logText().contains("ready") })
        kill(shim.shimPid, SIGTERM)
        XCTAssertEqual(try shim.wait().exitCode, 143, "conmon forwards SIGTERM to the container")
        XCTAssertTrue(ShimHarness.alive(shim.shimPid), "the shim stays for the engine to collect the exit")
    }

    // --- helpers ---------------------------------------------------------------

    private func helloFrame() -> [UInt8] {
        var request = Ttrpc_Request()
        request.service = ShimService.name
        request.method = "Hello"
        return Frame(streamID: 1, type: .request, payload: (try? request.serializedBytes()) ?? []).encoded()
    }

    private func readExactly(_ handle: FileHandle, _ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            guard let chunk = try handle.read(upToCount: count - out.count), !chunk.isEmpty else {
                throw TestSupport.SupportError("EOF after \(out.count) bytes")
            }
            out += chunk
        }
        return out
    }

    private func logLines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { record in
            let parts = record.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            return parts.count == 4 ? String(parts[3]) : nil
        }
    }

    private func fdCount(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    private func rssKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    private func procStat(_ pid: Int32) throws -> (ppid: Int32, pgrp: Int32, session: Int32) {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let close = try XCTUnwrap(stat.lastIndex(of: ")"))
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return (Int32(fields[1])!, Int32(fields[2])!, Int32(fields[3])!)
    }
}

private extension Int16 {
    var asMode: mode_t { mode_t(UInt16(bitPattern: self)) }
}
