import Foundation
import Glibc
import XCTest

/// `ocictl attach` on a terminal (script(1) gives it one, as a person's
/// shell would) to a container without a terminal (issue 14, item 9): the
/// detach keys work as typed, ctrl-c goes to the container unless
/// --no-sig-proxy.
final class OcictlAttachTerminalTests: XCTestCase {
    private var fx: OcictlFixture!
    private static let script = "/usr/bin/script"

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.script) else {
            throw XCTSkip("\(Self.script) (util-linux) is not installed: no terminal to attach from")
        }
        fx = try OcictlFixture(self, prefix: "ocictl-tty")
    }

    /// A running container without a terminal or stdin that ticks and says
    /// which signal ended it.
    private func ticking() throws -> String {
        let id = fx.newID("tty")
        let bundle = try fx.bundle(["/bin/sh", "-c",
                                    "trap 'echo got-int; exit 130' INT; while true; do echo tick; sleep 0.2; done"])
        try fx.start(id, bundle)
        return id
    }

    /// `ocictl attach` under script(1); its output once it is attached.
    /// `alone`: the shell execs ocictl, so that ctrl-c reaches ocictl only
    /// and script(1) exits with ocictl's status (a shell that runs ocictl
    /// as a child may itself die of the SIGINT, as dash does, before it
    /// can print ocictl's status).
    private func attach(_ id: String, _ options: [String] = [], alone: Bool = false) throws -> BackgroundProgram {
        let command = ([try TestSupport.ocictl()] + fx.withRoot(["attach"] + options + [id])).joined(separator: " ")
        let line = alone ? "exec " + command : command + "; echo attach-exit=$?"
        let program = try BackgroundProgram(Self.script, ["-qec", line, "/dev/null"])
        XCTAssertTrue(program.waitForOutput("tick"), "attached: \(program.stdout)")
        return program
    }

    func testCtrlPCtrlQDetachesFromAContainerWithoutATerminal() throws {
        let id = try ticking()
        let session = try attach(id)
        session.write("\u{10}\u{11}")
        XCTAssertTrue(session.waitForOutput("attach-exit=0"), "detached as typed: \(session.stdout.suffix(300))")
        XCTAssertTrue(session.stdout.contains("detached from \(id)"), String(session.stdout.suffix(300)))
        _ = session.finish()
        XCTAssertTrue(try fx.ocictl("state", id).stdout.contains("status:   running"), "the container goes on")
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }

    func testCtrlCIsProxiedToTheContainer() throws {
        let id = try ticking()
        let session = try attach(id, alone: true)
        session.write("\u{03}")
        let (status, _) = session.finish()
        XCTAssertEqual(status, 130, "ocictl exits with the container's code: \(session.stdout.suffix(300))")
        XCTAssertTrue(session.stdout.contains("got-int"), "the container got SIGINT")
        XCTAssertEqual(try fx.ocictl("wait", id).stdout, "130\n")
        XCTAssertEqual(try fx.ocictl("rm", id).status, 0)
    }

    func testNoSigProxyLeavesCtrlCToOcictl() throws {
        let id = try ticking()
        let session = try attach(id, ["--no-sig-proxy"])
        session.write("\u{03}")
        // ctrl-c ends the terminal's foreground group: ocictl and the shell.
        let (status, _) = session.finish()
        XCTAssertEqual(status, 130, "ended by SIGINT: \(session.stdout.suffix(300))")
        XCTAssertFalse(session.stdout.contains("got-int"))
        XCTAssertTrue(try fx.ocictl("state", id).stdout.contains("status:   running"), "the container goes on")
        XCTAssertEqual(try fx.ocictl("rm", "--force", id).status, 0)
    }

    /// `run -t` under a terminal: the container's terminal has the local
    /// window's size from its first instruction (sent before the start).
    func testRunWithATerminalStartsWithTheWindowSize() throws {
        let id = fx.newID("size")
        let bundle = try fx.bundle(["/bin/sh", "-c", "stty size; echo done"], terminal: true)
        let command = ([try TestSupport.ocictl()] + fx.withRoot(["run", "-t", "--rm", "--bundle", bundle.path, id])).joined(separator: " ")
        // A pipe that stays open as stdin: script(1) sends an end-of-file
        // character into the terminal when its stdin ends.
        let session = try BackgroundProgram(Self.script, ["-qec", "stty rows 27 cols 91; " + command + "; echo run-exit=$?", "/dev/null"])
        XCTAssertTrue(session.waitForOutput("run-exit="), session.stdout)
        _ = session.finish()
        let lines = session.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n")
        XCTAssertEqual(lines, ["27 91", "done", "run-exit=0"], session.stdout.debugDescription)
        try fx.assertGone(id, "after run -t --rm")
    }
}
