import Foundation
import Glibc
import ShimSystem
import XCTest

/// What ocishim-conmon has made when the runtime runs, and what it leaves
/// when the runtime fails, as conmon's main() does it: the attach socket
/// listening and the control FIFOs made before the runtime is forked, all
/// of them left in the bundle after a failure; config.json is the runtime's
/// to read.
final class ConmonBeforeTheRuntimeTests: XCTestCase {
    /// A runtime that records what the bundle holds when it is asked to
    /// create (and whether the attach socket answers), then runs runc.
    private func recordingRuntime(_ h: ConmonHarness, bundle: String) throws -> (path: String, record: String) {
        let record = h.dir + "/seen-by-runtime"
        let probe = "import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
            + "s.connect(sys.argv[1])\nprint('connected')\n"
        let script = """
            #!/bin/sh
            for arg; do
              if [ "$arg" = create ]; then
                stat -c '%n %F' '\(bundle)/attach' '\(bundle)/ctl' '\(bundle)/winsz' > '\(record)' 2>&1
                /usr/bin/python3 -c "\(probe)" '\(bundle)/attach' >> '\(record)' 2>&1
              fi
            done
            exec \(ConmonHarness.runc) "$@"

            """
        let path = h.dir + "/recording-runtime"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return (path, record)
    }

    func testTheAttachSocketListensWhenTheRuntimeRunsAndStaysWhenItFails() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/no/such/binary"])
        let runtime = try recordingRuntime(h, bundle: bundle.path)
        var arguments = h.podmanArguments(bundle: bundle.path)
        arguments[arguments.firstIndex(of: ConmonHarness.runc)!] = runtime.path
        let run = try h.start(arguments)
        defer { close(run.syncFD) }
        XCTAssertEqual(run.sync?["data"] as? Int, -1, run.stderr)
        XCTAssertTrue((run.sync?["message"] as? String ?? "").contains("runc create failed"), "\(String(describing: run.sync))")
        XCTAssertEqual(try String(contentsOfFile: runtime.record, encoding: .utf8), """
            \(bundle.path)/attach socket
            \(bundle.path)/ctl fifo
            \(bundle.path)/winsz fifo
            connected

            """)
        XCTAssertTrue(h.eventually { ConmonHarness.processes(mentioning: h.id).isEmpty }, "the monitor stayed")
        // conmon leaves them; nothing listens any more.
        for name in ["attach", "ctl", "winsz"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: bundle.path + "/" + name), "\(name) was removed")
        }
        XCTAssertThrowsError(try UnixSocket.connect(path: bundle.path + "/attach", type: Int32(SOCK_SEQPACKET.rawValue)))
        XCTAssertEqual(h.runtimeContainers(), [])
    }

    /// conmon does not read config.json: runc's own words reach the engine.
    func testAMissingConfigJSONIsTheRuntimesToReport() throws {
        let h = try ConmonHarness(self)
        let bundle = try BusyboxBundle.make(in: h.dir, args: ["/bin/true"])
        try FileManager.default.removeItem(atPath: bundle.configPath)
        let run = try h.start(h.podmanArguments(bundle: bundle.path))
        defer { close(run.syncFD) }
        XCTAssertEqual(run.sync?["data"] as? Int, -1)
        let message = run.sync?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("runc create failed") && message.contains("config.json"), message)
        XCTAssertTrue(FileManager.default.fileExists(atPath: bundle.path + "/attach"))
    }
}
