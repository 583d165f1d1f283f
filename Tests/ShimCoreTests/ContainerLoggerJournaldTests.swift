import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// The journald driver, decoded by a stand-in journal socket. The expected
/// datagrams are what conmon 2.1.6 sent to a socket bound at
/// /run/systemd/journal/socket, minus the CODE_FILE/CODE_LINE/CODE_FUNC
/// fields libsystemd adds about conmon's own source.
final class ContainerLoggerJournaldTests: LogTestCase {
    private var journal: JournalListener!

    override func setUpWithError() throws {
        try super.setUpWithError()
        journal = try JournalListener(path: path("journal.sock"))
    }

    override func tearDown() {
        journal = nil
        super.tearDown()
    }

    private func journalLogger(name: String = "ctr-name", tag: String = "",
                               extra: [LogDriverKind] = []) throws -> ContainerLogger {
        try ContainerLogger(config: LogConfig(drivers: [.journald(socketPath: journal.path)] + extra, tag: tag,
                                              containerID: logTestID, containerName: name),
                            clock: clock.clock)
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func testACompleteLineIsOneDatagramLikeConmons() throws {
        let logger = try journalLogger()
        logger.write(.stdout, "hello\n")
        let expected = bytes("MESSAGE\n") + [6, 0, 0, 0, 0, 0, 0, 0] + bytes("""
            hello

            CONTAINER_ID_FULL=0123456789abcdef0123456789abcdef
            PRIORITY=6
            CONTAINER_ID=0123456789ab
            CONTAINER_NAME=ctr-name
            SYSLOG_IDENTIFIER=ctr-name

            """)
        XCTAssertEqual(journal.receiveRaw(), [expected])
        XCTAssertNil(logger.writeError)
    }

    func testATagBecomesContainerTagAndSyslogIdentifier() throws {
        let logger = try journalLogger(tag: "mytag")
        logger.write(.stderr, "err\n")
        let entries = journal.receive()
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries.first?.names, ["MESSAGE", "CONTAINER_ID_FULL", "PRIORITY", "CONTAINER_ID",
                                              "CONTAINER_TAG", "CONTAINER_NAME", "SYSLOG_IDENTIFIER"])
        XCTAssertEqual(entries.first?["MESSAGE"], "err\n")
        XCTAssertEqual(entries.first?["PRIORITY"], "3")
        XCTAssertEqual(entries.first?["CONTAINER_TAG"], "mytag")
        XCTAssertEqual(entries.first?["SYSLOG_IDENTIFIER"], "mytag")
    }

    func testWithoutANameTheShortIDIdentifiesTheEntry() throws {
        let logger = try journalLogger(name: "")
        logger.write(.stdout, "x\n")
        let entry = try XCTUnwrap(journal.receive().first)
        XCTAssertEqual(entry.names, ["MESSAGE", "CONTAINER_ID_FULL", "PRIORITY", "CONTAINER_ID", "SYSLOG_IDENTIFIER"])
        XCTAssertEqual(entry["SYSLOG_IDENTIFIER"], "0123456789ab")
        XCTAssertEqual(entry["CONTAINER_ID_FULL"], logTestID)
    }

    func testPriorityFollowsTheStream() throws {
        let logger = try journalLogger()
        logger.write(.stdout, "out\n")
        logger.write(.stderr, "err\n")
        XCTAssertEqual(journal.receive().map { $0["PRIORITY"] }, ["6", "3"])
    }

    /// conmon sent "a\n", "b\n", "\n", then "cd\r\n" for the chunks
    /// "a\nb\n\nc" and "d\r\n": a line split across reads is joined.
    func testEveryLineIsAnEntryAndASplitLineIsJoined() throws {
        let logger = try journalLogger()
        logger.write(.stdout, "a\nb\n\nc")
        logger.write(.stdout, "d\r\n")
        let entries = journal.receive()
        XCTAssertEqual(entries.map { $0["MESSAGE"] }, ["a\n", "b\n", "\n", "cd\r\n"])
        XCTAssertTrue(entries.allSatisfy { $0.isBinary("MESSAGE") && $0["CONTAINER_PARTIAL_MESSAGE"] == nil })
    }

    func testHeldFragmentsOfTheTwoStreamsStayApart() throws {
        let logger = try journalLogger()
        logger.write(.stdout, "out-")
        logger.write(.stderr, "err-")
        logger.write(.stdout, "line\n")
        logger.write(.stderr, "line\n")
        XCTAssertEqual(journal.receive().map { "\($0["PRIORITY"]!) \($0["MESSAGE"]!)" }, ["6 out-line\n", "3 err-line\n"])
    }

    /// At the end of output a held fragment goes out as a partial message,
    /// in the plain form when it is text (as conmon: "end-partial").
    func testFlushSendsAHeldFragmentAsPartial() throws {
        let logger = try journalLogger()
        logger.write(.stdout, "end-partial")
        XCTAssertEqual(journal.receive().count, 0)
        logger.flush()
        let entry = try XCTUnwrap(journal.receive().first)
        XCTAssertEqual(entry["MESSAGE"], "end-partial")
        XCTAssertFalse(entry.isBinary("MESSAGE"))
        XCTAssertEqual(entry["CONTAINER_PARTIAL_MESSAGE"], "true")
        XCTAssertEqual(entry.names.last, "CONTAINER_PARTIAL_MESSAGE")
        logger.flush()
        XCTAssertEqual(journal.receive().count, 0)
    }

    /// Unlike conmon, which keeps a fragment until the container writes
    /// again: at its deadline it goes out as a partial message, as in the
    /// k8s-file log, and the other stream's younger one waits for its own.
    func testAHeldFragmentGoesOutAtItsDeadline() throws {
        let logger = try journalLogger()
        let timer = TestFlushScheduler()
        timer.attach(to: logger)
        logger.write(.stdout, "Password: ")
        clock.advance(nanos: ContainerLogger.flushDelayNanos / 2)
        logger.write(.stderr, "warn")
        XCTAssertEqual(timer.delays, [ContainerLogger.flushDelayNanos])
        clock.advance(nanos: ContainerLogger.flushDelayNanos / 2)
        timer.fire()
        let entries = journal.receive()
        XCTAssertEqual(entries.map { $0["MESSAGE"] }, ["Password: "])
        XCTAssertEqual(entries.first?["CONTAINER_PARTIAL_MESSAGE"], "true")
        XCTAssertEqual(timer.delays, [ContainerLogger.flushDelayNanos, ContainerLogger.flushDelayNanos / 2])
        logger.write(.stderr, "ing\n")
        XCTAssertEqual(journal.receive().map { $0["MESSAGE"] }, ["warning\n"])
    }

    func testCloseFlushes() throws {
        let logger = try journalLogger()
        logger.write(.stderr, "last words")
        logger.close()
        XCTAssertEqual(journal.receive().map { $0["MESSAGE"] }, ["last words"])
    }

    /// conmon holds up to 8192 bytes; 5000 + 5000 went out as one partial
    /// message of 10000, then "z\n" on its own.
    func testAFragmentTooLongToHoldIsSentAsPartial() throws {
        let logger = try journalLogger()
        logger.write(.stdout, String(repeating: "x", count: 5000))
        logger.write(.stdout, String(repeating: "y", count: 5000))
        logger.write(.stdout, "z\n")
        let entries = journal.receive()
        XCTAssertEqual(entries.map { $0["MESSAGE"]?.count }, [10000, 2])
        XCTAssertEqual(entries.map { $0["CONTAINER_PARTIAL_MESSAGE"] }, ["true", nil])
        XCTAssertEqual(entries.first?["MESSAGE"], String(repeating: "x", count: 5000) + String(repeating: "y", count: 5000))
    }

    func testNonTextUsesTheBinaryForm() throws {
        let logger = try journalLogger()
        logger.write(.stdout, [0x01] + bytes("bin") + [0xFF])
        logger.flush()
        let binary = try XCTUnwrap(journal.receive().first)
        XCTAssertEqual(binary.fields.first?.value, [0x01] + bytes("bin") + [0xFF])
        XCTAssertTrue(binary.isBinary("MESSAGE"))

        // UTF-8 is text, also when a character straddles two reads.
        logger.write(.stdout, bytes("caf") + [0xC3])
        logger.write(.stdout, [0xA9] + bytes(" ok"))
        logger.flush()
        let text = try XCTUnwrap(journal.receive().first)
        XCTAssertEqual(text["MESSAGE"], "caf\u{e9} ok")
        XCTAssertFalse(text.isBinary("MESSAGE"))
    }

    func testALineLongerThanTheMessageLimitIsSplitIntoPartials() throws {
        let logger = try journalLogger()
        let line = String(repeating: "L", count: JournaldSink.messageLimit * 2 + 10) + "\n"
        logger.write(.stdout, line)
        let entries = journal.receive()
        XCTAssertEqual(entries.map { $0["MESSAGE"]?.count }, [JournaldSink.messageLimit, JournaldSink.messageLimit, 11])
        XCTAssertEqual(entries.map { $0["CONTAINER_PARTIAL_MESSAGE"] }, ["true", "true", nil])
        XCTAssertEqual(entries.compactMap { $0["MESSAGE"] }.joined(), line)
    }

    func testAMissingSocketIsAWriteErrorUntilTheJournalIsBack() throws {
        journal = nil  // unbinds and removes the socket
        var changes: [String?] = []
        let logger = try ContainerLogger(config: LogConfig(drivers: [.journald(socketPath: path("journal.sock"))],
                                                           containerID: logTestID))
        logger.onErrorChange = { changes.append($0) }
        logger.write(.stdout, "lost\nalso lost\n")
        logger.write(.stdout, "lost too\n")
        let message = "send to journald at \(path("journal.sock")): No such file or directory"
        XCTAssertEqual(logger.writeError, message)
        XCTAssertEqual(logger.droppedBytes, UInt64("lost\nalso lost\n".utf8.count + "lost too\n".utf8.count))
        XCTAssertEqual(changes, [message])

        journal = try JournalListener(path: path("journal.sock"))
        logger.write(.stdout, "back\n")
        XCTAssertNil(logger.writeError)
        XCTAssertEqual(changes, [message, nil])
        XCTAssertEqual(journal.receive().map { $0["MESSAGE"] }, ["back\n"])
    }

    /// A journal that stops reading makes sends wait; each chunk waits at
    /// most the send timeout, then drops the rest and reports it.
    func testAJournalThatDoesNotReadCostsABoundedWaitAndDrops() throws {
        let logger = try journalLogger()
        let lines = (0..<3000).map { "line \($0)\n" }
        logger.write(.stdout, lines.joined())
        let message = "send to journald at \(journal.path): Resource temporarily unavailable"
        XCTAssertEqual(logger.writeError, message)
        let received = journal.receive()
        XCTAssertFalse(received.isEmpty)
        XCTAssertEqual(received.compactMap { $0["MESSAGE"] }, Array(lines.prefix(received.count)))
        XCTAssertEqual(Int(logger.droppedBytes), lines.dropFirst(received.count).joined().utf8.count)

        logger.write(.stdout, "again\n")
        XCTAssertNil(logger.writeError)
        XCTAssertEqual(journal.receive().map { $0["MESSAGE"] }, ["again\n"])
    }

    /// Each record goes to every driver: the same output in the file and
    /// the journal.
    func testSeveralDriversAtOnce() throws {
        let logger = try withTimeZone("UTC0") {
            try journalLogger(tag: "t", extra: [.k8sFile(path: path("ctr.log")), .none])
        }
        logger.write(.stdout, "one\ntw")
        logger.write(.stderr, "err\n")
        logger.write(.stdout, "o\n")
        let stamp = "2026-11-30T09:12:01.123456789+00:00"
        XCTAssertEqual(try readText(path("ctr.log")), """
            \(stamp) stdout F one
            \(stamp) stderr F err
            \(stamp) stdout F two

            """)
        XCTAssertEqual(journal.receive().map { $0["MESSAGE"] }, ["one\n", "err\n", "two\n"])
    }

    func testTheNoneDriverDiscards() throws {
        for drivers in [[LogDriverKind.none], []] {
            let logger = try ContainerLogger(config: LogConfig(drivers: drivers, containerID: "short"))
            logger.write(.stdout, "gone\n")
            logger.flush()
            try logger.reopen()
            XCTAssertNil(logger.writeError)
            XCTAssertEqual(logger.droppedBytes, 0)
        }
        XCTAssertEqual(try FileSystem.list(dir), ["journal.sock"])
    }

    func testConfigurationsConmonRefusesAreInvalid() {
        let refused: [(LogConfig, String)] = [
            (LogConfig(drivers: [.k8sFile(path: path("a.log"))], tag: "t", containerID: logTestID), "log tag"),
            (LogConfig(drivers: [.journald(socketPath: journal.path)], containerID: "0123456789ab"), "longer than 12"),
            (LogConfig(drivers: [.k8sFile(path: "")], containerID: logTestID), "requires a filename"),
            (LogConfig(drivers: [.journald(socketPath: "/" + String(repeating: "s", count: 200))], containerID: logTestID), "socket path"),
            (LogConfig(drivers: [.k8sFile(path: path("a.log"))], maxFiles: -1, containerID: logTestID), "max files"),
        ]
        for (config, text) in refused {
            XCTAssertThrowsError(try ContainerLogger(config: config)) { error in
                XCTAssertEqual((error as? CoreError)?.kind, .invalidArgument)
                XCTAssertTrue("\(error)".contains(text), "\(error)")
            }
        }
        // A tag is fine when journald is there to take it.
        XCTAssertNoThrow(try journalLogger(tag: "t", extra: [.k8sFile(path: path("b.log"))]))
    }
}
