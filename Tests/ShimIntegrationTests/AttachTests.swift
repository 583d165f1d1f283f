import Foundation
import Glibc
import ShimClient
import ShimProtocol
import XCTest

/// Attach over the protocol and through conmon's attach socket, terminals
/// and resizes, on real runc.
final class AttachTests: XCTestCase {
    func testAttachSeesLiveOutputAndStdinReachesCat() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/cat"]) { $0.stdin = true }
        let stream = try shim.attach { $0.stdin = true }
        var seen = AttachTranscript()
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("hello cat\n".utf8) })
        try seen.read(stream) { $0.stdoutText.contains("hello cat\n") }
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("second line\n".utf8) })
        try seen.read(stream) { $0.stdoutText.contains("second line\n") }
        // Half-closing closes the container's stdin: cat exits 0.
        try stream.closeSend()
        try seen.read(stream)
        XCTAssertEqual(seen.stdoutText, "hello cat\nsecond line\n")
        XCTAssertEqual(seen.exitCode, 0)
        XCTAssertEqual(try shim.wait().exitCode, 0)
        XCTAssertTrue(try shim.logText().contains("hello cat\n"), "output also goes to the log")
    }

    func testLeaveStdinOpenKeepsCatRunningAfterHalfClose() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/cat"]) { $0.stdin = true; $0.leaveStdinOpen = true }
        let first = try shim.attach { $0.stdin = true }
        try first.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("one\n".utf8); $0.closeStdin = true })
        var seen = AttachTranscript()
        try seen.read(first) { $0.stdoutText == "one\n" }
        try first.closeSend()
        usleep(300_000)
        XCTAssertEqual(try shim.state().status, .running, "stdin stays open")
        let second = try shim.attach { $0.stdin = true }
        try second.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("two\n".utf8) })
        var again = AttachTranscript()
        try again.read(second) { $0.stdoutText == "two\n" }
    }

    func testDetachKeysDetachWithoutStoppingTheContainer() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/cat"]) { $0.stdin = true }
        let stream = try shim.attach { $0.stdin = true }
        // ctrl-p alone is passed on once something else follows it.
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data([0x10, UInt8(ascii: "x"), 0x0a]) })
        var seen = AttachTranscript()
        try seen.read(stream) { $0.stdout == [0x10, UInt8(ascii: "x"), 0x0a] }
        // The default ctrl-p,ctrl-q, split over two messages.
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data([UInt8(ascii: "a"), 0x10]) })
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data([0x11, UInt8(ascii: "b")]) })
        try seen.read(stream)
        XCTAssertTrue(seen.detached)
        XCTAssertNil(seen.exitCode)
        XCTAssertEqual(try shim.state().status, .running)
        // Custom keys; and an invalid spec is INVALID_ARGUMENT.
        let custom = try shim.attach { $0.stdin = true; $0.detachKeys = "ctrl-a,d" }
        try custom.send(Ocishim_V1_AttachInput.with { $0.stdin = Data([0x01, UInt8(ascii: "d")]) })
        var detached = AttachTranscript()
        try detached.read(custom)
        XCTAssertTrue(detached.detached)
        let bad = try shim.attach { $0.stdin = true; $0.detachKeys = "ctrl-1" }
        XCTAssertThrowsError(try bad.next(Ocishim_V1_AttachOutput.self, timeoutSeconds: 10)) { error in
            guard case ClientError.rpc(let rpc) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(rpc.code, .invalidArgument)
            XCTAssertTrue(rpc.message.contains("ctrl-1"), rpc.message)
        }
        // The container got "a" before the keys and nothing of them or after.
        let check = try shim.attach { $0.stdin = true; $0.noDetachKeys = true }
        try check.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("\n".utf8) })
        var rest = AttachTranscript()
        try rest.read(check) { $0.stdoutText.hasSuffix("\n") }
        XCTAssertEqual(rest.stdoutText, "\n")
        let logged = try shim.eventually { try shim.logText() == "\u{10}x\na\n" }
        let log = try shim.logText()
        XCTAssertTrue(logged, log.debugDescription)
    }

    func testTwoAttachClientsBothSeeTheOutput() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/cat"]) { $0.stdin = true }
        let a = try shim.attach { $0.stdin = true }
        let b = try shim.attach { $0.stdout = true }
        try a.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("for both\n".utf8) })
        var seenA = AttachTranscript(), seenB = AttachTranscript()
        try seenA.read(a) { $0.stdoutText == "for both\n" }
        try seenB.read(b) { $0.stdoutText == "for both\n" }
        // b did not attach stdin: its input is ignored, its half-close too.
        try b.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("ignored\n".utf8) })
        try b.closeSend()
        try a.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("again\n".utf8) })
        try seenA.read(a) { $0.stdoutText.hasSuffix("again\n") }
        try seenB.read(b) { $0.stdoutText.hasSuffix("again\n") }
        XCTAssertEqual(seenB.stdoutText, "for both\nagain\n")
        try a.closeSend()
        try seenA.read(a)
        try seenB.read(b)
        XCTAssertEqual(seenA.exitCode, 0)
        XCTAssertEqual(seenB.exitCode, 0)
    }

    func testNonTerminalKeepsStdoutAndStderrApart() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/sh", "-c", "read x; echo to-out; echo to-err >&2; read y; exit 0"]) { $0.stdin = true }
        let stream = try shim.attach { $0.stdin = true }
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("go\n".utf8) })
        var seen = AttachTranscript()
        try seen.read(stream) { $0.stdout.count == 7 && $0.stderr.count == 7 }
        XCTAssertEqual(seen.stdoutText, "to-out\n")
        XCTAssertEqual(String(decoding: seen.stderr, as: UTF8.self), "to-err\n")
        let onlyErr = try shim.attach { $0.stdout = false; $0.stderr = true; $0.stdin = true }
        try onlyErr.closeSend()
        var errSide = AttachTranscript()
        try errSide.read(onlyErr)
        XCTAssertEqual(errSide.exitCode, 0)
        XCTAssertEqual(errSide.stdout, [])
        XCTAssertEqual(try shim.failure("Attach", Ocishim_V1_AttachInput())?.code, .invalidArgument, "no stream asked for")
    }

    func testTerminalContainerOutputIsRawAndResizes() throws {
        let shim = try ShimHarness(self)
        // One `stty size` per line of input, until stdin ends.
        let bundle = try shim.startContainer(["/bin/sh", "-c", "while read x; do stty size; done"], terminal: true) { $0.stdin = true }
        let stream = try shim.attach { $0.stdin = true }
        var seen = AttachTranscript()
        /// Asks for the size until the terminal reports `size`: a resize
        /// through a FIFO is applied when the shim reads the FIFO, which may
        /// come after the next line of input.
        func expectSize(_ size: String, resize: Ocishim_V1_ResizeRequest? = nil) throws {
            for attempt in 0..<50 {
                let lines = seen.stdoutText.components(separatedBy: "\r\n").count
                try stream.send(Ocishim_V1_AttachInput.with {
                    if let resize, attempt == 0 { $0.resize = resize }
                    $0.stdin = Data("\n".utf8)
                })
                try seen.read(stream) { $0.stdoutText.components(separatedBy: "\r\n").count > lines }
                if seen.stdoutText.hasSuffix(size + "\r\n") { return }
                usleep(100_000)
            }
            XCTFail("the terminal never reported \(size): \(seen.stdoutText.debugDescription)")
        }
        let _: Ocishim_V1_ResizeResponse = try shim.call("AttachResize", Ocishim_V1_ResizeRequest.with { $0.height = 33; $0.width = 77 })
        try expectSize("33 77")
        // In-band resize, then conmon's ctl FIFO (in the state dir: serve writes nothing into the bundle).
        try expectSize("40 100", resize: .with { $0.height = 40; $0.width = 100 })
        let ctl = FileHandle(forWritingAtPath: shim.stateDir + "/ctl")!
        ctl.write(Data("not a valid line\n1 2000 5\n1 12 34\n".utf8))
        try ctl.close()
        try expectSize("12 34")
        // conmon's winsz FIFO takes HEIGHT WIDTH.
        let winsz = FileHandle(forWritingAtPath: shim.stateDir + "/winsz")!
        winsz.write(Data("45 99\n".utf8))
        try winsz.close()
        try expectSize("45 99")
        // Ctrl-D at the start of a line: `read` sees the end of input.
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data([4]) })
        try seen.read(stream)
        XCTAssertEqual(seen.exitCode, 0)
        XCTAssertEqual(seen.stderr, [], "a terminal has one stream")
        XCTAssertTrue(seen.stdoutText.contains("33 77\r\n"), "raw terminal output (ONLCR): \(seen.stdoutText.debugDescription)")
        XCTAssertFalse(seen.stdoutText.contains("2000"))
    }

    func testExecWithTerminalSeesAResize() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        let stream = try shim.attach {
            $0.stdin = true
            $0.exec = .with {
                $0.execID = "tty"
                $0.args = ["/bin/sh", "-c", "stty size; read x; stty size; exit 3"]
                $0.terminal = true
                $0.stdin = true
            }
        }
        // Sent before the process has its terminal: applied when it does.
        try stream.send(Ocishim_V1_AttachInput.with { $0.resize = .with { $0.height = 21; $0.width = 61 } })
        var seen = AttachTranscript()
        try seen.read(stream) { $0.stdoutText.contains("\n") }
        let _: Ocishim_V1_ExecResizeResponse = try shim.call("ExecResize", Ocishim_V1_ExecResizeRequest.with {
            $0.execID = "tty"; $0.height = 50; $0.width = 132
        })
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("\n".utf8) })
        try seen.read(stream)
        XCTAssertEqual(seen.exitCode, 3)
        XCTAssertTrue(seen.stdoutText.contains("50 132\r\n"), seen.stdoutText.debugDescription)
        XCTAssertEqual(try shim.execState("tty").exitCode, 3)
        XCTAssertEqual(try shim.failure("ExecResize", Ocishim_V1_ExecResizeRequest.with { $0.execID = "tty"; $0.height = 1 })?.code,
                       .failedPrecondition, "exited")
    }

    func testAttachedExecLosesNoOutputAndADetachedOneKeepsABacklog() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        // Output right at the start reaches a client attached by Attach(exec).
        let stream = try shim.attach { $0.exec = .with { $0.execID = "now"; $0.args = ["/bin/sh", "-c", "echo first; echo second >&2; exit 5"] } }
        var seen = AttachTranscript()
        try seen.read(stream)
        XCTAssertEqual(seen.stdoutText, "first\n")
        XCTAssertEqual(String(decoding: seen.stderr, as: UTF8.self), "second\n")
        XCTAssertEqual(seen.exitCode, 5)
        // A detached session's output waits for the next client (64 KiB kept).
        let _: Ocishim_V1_ExecResponse = try shim.call("Exec", shim.execRequest("later", ["/bin/sh", "-c", "echo kept"]))
        XCTAssertEqual(try shim.waitExec("later").exitCode, 0)
        var late = AttachTranscript()
        try late.read(try shim.attach { $0.execID = "later" })
        XCTAssertEqual(late.stdoutText, "kept\n")
        XCTAssertEqual(late.exitCode, 0)
        XCTAssertEqual(late.dropped, 0)
        // Beyond 64 KiB the oldest output goes, and the client is told how much.
        let _: Ocishim_V1_ExecResponse = try shim.call("Exec", shim.execRequest("big", ["/bin/sh", "-c", "head -c 100000 /dev/zero; echo end"]))
        XCTAssertEqual(try shim.waitExec("big").exitCode, 0)
        var big = AttachTranscript()
        try big.read(try shim.attach { $0.execID = "big" })
        XCTAssertEqual(big.stdout.count, 64 << 10)
        XCTAssertEqual(big.dropped, UInt64(100_004 - (64 << 10)))
        XCTAssertTrue(big.stdoutText.hasSuffix("end\n"))
        XCTAssertEqual(try shim.failure("Attach", Ocishim_V1_AttachInput.with { $0.options = .with { $0.stdout = true; $0.execID = "nope" } })?.code, .notFound)
    }

    func testAClientThatDoesNotReadIsDetachedNotTheContainer() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/sh", "-c", "read x; head -c 40000000 /dev/zero; echo done >&2; read y; exit 0"]) {
            $0.stdin = true
            $0.log = .with { $0.drivers = [.with { $0.driver = "none" }] }
        }
        let stream = try shim.attach { $0.stdin = true }
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("\n".utf8) })
        // Do not read for a while: the shim's queue for this client fills.
        sleep(2)
        var seen = AttachTranscript()
        XCTAssertThrowsError(try seen.read(stream, seconds: 60)) { error in
            guard case ClientError.rpc(let rpc) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(rpc.code, .resourceExhausted)
            XCTAssertTrue(rpc.message.contains("not reading"), rpc.message)
        }
        XCTAssertLessThan(seen.stdout.count, 40_000_000)
        XCTAssertEqual(try shim.state().status, .running, "the container is not held up or harmed")
        let check = try shim.attach { $0.stdin = true }
        try check.closeSend()
        var rest = AttachTranscript()
        try rest.read(check)
        XCTAssertEqual(rest.exitCode, 0)
    }
}

extension AttachTests {
    /// Input and its end that arrive before `runc exec` has returned are
    /// kept and delivered in order once the process has its stdin.
    func testStdinAndItsEndBeforeTheExecStartedAreDelivered() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer()
        for (id, input) in [("empty", ""), ("early", "early input\n")] {
            let stream = try shim.attach {
                $0.stdin = true
                $0.exec = .with { $0.execID = id; $0.args = ["/bin/cat"]; $0.stdin = true }
            }
            if !input.isEmpty { try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data(input.utf8) }) }
            try stream.closeSend()
            var seen = AttachTranscript()
            try seen.read(stream, seconds: 20)
            XCTAssertEqual(seen.exitCode, 0, id)
            XCTAssertEqual(seen.stdoutText, input, id)
        }
    }
}

extension AttachTests {
    /// replay_log: what the container printed before the client came, read
    /// back from its k8s-file log, then live output; nothing twice.
    func testReplayLogGivesEarlierOutputFirst() throws {
        let shim = try ShimHarness(self)
        try shim.startContainer(["/bin/sh", "-c", "echo early; echo err-early >&2; printf partial; cat"]) { $0.stdin = true }
        XCTAssertTrue(try shim.eventually { try shim.logText().contains("partial") })
        let stream = try shim.attach { $0.stdin = true; $0.replayLog = true }
        try stream.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("live\n".utf8) })
        var seen = AttachTranscript()
        try seen.read(stream) { $0.stdoutText.hasSuffix("live\n") }
        XCTAssertEqual(seen.stdoutText, "early\npartiallive\n")
        XCTAssertEqual(String(decoding: seen.stderr, as: UTF8.self), "err-early\n")
        let plain = try shim.attach { $0.stdin = true }
        try plain.send(Ocishim_V1_AttachInput.with { $0.stdin = Data("again\n".utf8) })
        var live = AttachTranscript()
        try live.read(plain) { $0.stdoutText.hasSuffix("again\n") }
        XCTAssertEqual(live.stdoutText, "again\n", "without replay_log only live output")
    }
}
