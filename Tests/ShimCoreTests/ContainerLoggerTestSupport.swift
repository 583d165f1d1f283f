import Glibc
import XCTest
@testable import ShimCore
@testable import ShimSystem

/// 2026-11-30T09:12:01Z plus 123456789 ns: the fixed time of the log tests.
let logTestTime: Int64 = 1_796_029_921 * 1_000_000_000 + 123_456_789
let logTestID = "0123456789abcdef0123456789abcdef"

extension ContainerLogger {
    func write(_ stream: LogStream, _ text: String, at timestamp: Int64 = logTestTime) {
        write(stream, Array(text.utf8), at: timestamp)
    }

    func write(_ stream: LogStream, _ bytes: [UInt8], at timestamp: Int64 = logTestTime) {
        bytes.withUnsafeBytes { write(stream, $0, timestamp: timestamp) }
    }
}

/// The logger's clocks under the test's control: the wall clock reads
/// `realtime` (the fixed test time unless a test moves it), the monotonic
/// clock `monotonic`, which only moves when the test advances it.
final class TestLogClock {
    var realtime: Int64 = logTestTime
    var monotonic: Int64 = 1_000_000_000

    var clock: LogClock {
        LogClock(realtimeNanos: { [unowned self] in realtime }, monotonicNanos: { [unowned self] in monotonic })
    }

    func advance(nanos: Int64) {
        monotonic += nanos
        realtime += nanos
    }
}

/// A stand-in for the shim's loop timer: remembers what the logger
/// scheduled, for the test to run.
final class TestFlushScheduler {
    private(set) var delays: [Int64] = []
    private var pending: [() -> Void] = []

    func attach(to logger: ContainerLogger) {
        logger.scheduleFlush = { [unowned self] nanos, body in
            delays.append(nanos)
            pending.append(body)
        }
    }

    var pendingCount: Int { pending.count }

    /// Runs the timers scheduled so far (those they schedule wait).
    func fire() {
        let due = pending
        pending = []
        for body in due { body() }
    }
}

/// Runs `body` with TZ set for the whole process, then puts TZ back. The
/// logger reads TZ (tzset) when it is created, so create it inside.
func withTimeZone<T>(_ zone: String, _ body: () throws -> T) rethrows -> T {
    let saved = getenv("TZ").map { String(cString: $0) }
    setenv("TZ", zone, 1)
    tzset()
    defer {
        if let saved { setenv("TZ", saved, 1) } else { unsetenv("TZ") }
        tzset()
    }
    return try body()
}

func readText(_ path: String) throws -> String {
    String(decoding: try FileSystem.read(path), as: UTF8.self)
}

/// A scratch directory per test, removed afterwards.
class LogTestCase: XCTestCase {
    var dir = ""
    /// The clocks of the loggers the test makes.
    var clock = TestLogClock()

    override func setUpWithError() throws {
        dir = try TemporaryDirectory.make(prefix: "logtest")
        clock = TestLogClock()
    }

    override func tearDown() {
        try? FileSystem.removeTree(dir)
    }

    func path(_ name: String) -> String { FileSystem.join(dir, name) }

    /// A k8s-file logger in UTC.
    func fileLogger(_ name: String = "ctr.log", sizeMax: Int64 = -1, maxFiles: Int = 0) throws -> ContainerLogger {
        try withTimeZone("UTC0") {
            try ContainerLogger(config: LogConfig(drivers: [.k8sFile(path: path(name))], sizeMax: sizeMax,
                                                  maxFiles: maxFiles, containerID: logTestID),
                                clock: clock.clock)
        }
    }
}

/// One decoded journal entry: the fields in the order they came, and
/// whether each used the binary form.
struct JournalEntry {
    var fields: [(name: String, value: [UInt8], binary: Bool)] = []

    subscript(name: String) -> String? {
        fields.first { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    var names: [String] { fields.map(\.name) }

    func isBinary(_ name: String) -> Bool { fields.first { $0.name == name }?.binary ?? false }

    /// Parses the native protocol; fails the test on malformed input.
    init(datagram bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        var index = 0
        while index < bytes.count {
            guard let end = bytes[index...].firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\n") }) else {
                XCTFail("field without = or newline at \(index)", file: file, line: line)
                return
            }
            let name = String(decoding: bytes[index..<end], as: UTF8.self)
            if bytes[end] == UInt8(ascii: "=") {
                guard let newline = bytes[end...].firstIndex(of: UInt8(ascii: "\n")) else {
                    XCTFail("unterminated field \(name)", file: file, line: line)
                    return
                }
                fields.append((name, Array(bytes[(end + 1)..<newline]), false))
                index = newline + 1
            } else {
                guard end + 9 <= bytes.count else {
                    XCTFail("short binary field \(name)", file: file, line: line)
                    return
                }
                var length = 0
                for k in 0..<8 { length |= Int(bytes[end + 1 + k]) << (8 * k) }
                let start = end + 9
                guard start + length < bytes.count, bytes[start + length] == UInt8(ascii: "\n") else {
                    XCTFail("binary field \(name) of \(length) bytes not followed by a newline", file: file, line: line)
                    return
                }
                fields.append((name, Array(bytes[start..<(start + length)]), true))
                index = start + length + 1
            }
        }
    }
}

/// A stand-in for journald: a datagram socket at a path of the test's
/// choosing.
final class JournalListener {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let error = SystemError("bind \(path)")
            close(fd)
            throw error
        }
        // Room for the long-line tests' datagrams.
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The datagrams queued so far, raw.
    func receiveRaw() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { break }
            out.append(Array(buffer[0..<n]))
        }
        return out
    }

    func receive(file: StaticString = #filePath, line: UInt = #line) -> [JournalEntry] {
        receiveRaw().map { JournalEntry(datagram: $0, file: file, line: line) }
    }
}
