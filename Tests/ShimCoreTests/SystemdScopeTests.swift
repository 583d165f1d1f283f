import Foundation
import Glibc
import XCTest
@testable import ShimCore
import ShimSystem

/// The systemd manager's placement against a bus that answers as systemd's
/// private socket does (this machine runs no systemd): the SASL EXTERNAL
/// exchange, one StartTransientUnit call, a method return or an error.
final class SystemdScopeTests: XCTestCase {
    /// A one-connection D-Bus peer on a thread: authenticates, keeps the
    /// call it gets, answers with `reply`.
    private final class FakeBus: @unchecked Sendable {
        let path: String
        private let listener: Int32
        private let lock = NSLock()
        private var seenCall: [UInt8] = []
        private var seenAuth = ""
        private let done = DispatchSemaphore(value: 0)

        init(dir: String, reply: [UInt8]) throws {
            path = dir + "/private"
            listener = try UnixSocket.listen(path: path, type: Int32(SOCK_STREAM.rawValue), mode: 0o600).rawValue
            _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) & ~O_NONBLOCK)
            Thread { [self] in serve(reply) }.start()
        }

        private func serve(_ reply: [UInt8]) {
            defer { done.signal() }
            let peer = accept(listener, nil, nil)
            guard peer >= 0 else { return }
            defer { close(peer) }
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            var auth = ""
            // Up to BEGIN\r\n, answering the AUTH line.
            while read(peer, &byte, 1) == 1 {
                bytes.append(byte)
                let text = String(decoding: bytes, as: UTF8.self)
                if auth.isEmpty && text.hasSuffix("\r\n") {
                    auth = text
                    _ = "OK 0123456789abcdef0123456789abcdef\r\n".withCString { write(peer, $0, strlen($0)) }
                }
                if text.hasSuffix("BEGIN\r\n") { break }
            }
            var call: [UInt8] = []
            while DBusMessage.totalLength(of: call).map({ call.count < $0 }) ?? true {
                guard read(peer, &byte, 1) == 1 else { break }
                call.append(byte)
            }
            lock.withLock { (seenAuth, seenCall) = (auth, call) }
            _ = reply.withUnsafeBytes { write(peer, $0.baseAddress, $0.count) }
            _ = read(peer, &byte, 1)  // until the shim closes
        }

        /// What the peer got, once the shim has closed the connection.
        func received() -> (auth: String, call: [UInt8]) {
            _ = done.wait(timeout: .now() + 10)
            return lock.withLock { (seenAuth, seenCall) }
        }

        deinit { close(listener) }
    }

    private func place(bus: String) -> CgroupPlacement.Outcome {
        CgroupPlacement.place(pid: 4242, parent: "machine.slice", manager: "systemd", noCgroups: false,
                              containerID: "abc", invocationID: nil, layout: CgroupLayout(hierarchies: []), systemdBus: bus)
    }

    func testTheMonitorGoesIntoATransientScopeAsPodmanAsksForIt() throws {
        let dir = try TemporaryDirectory.make(prefix: "bus")
        defer { try? FileSystem.removeTree(dir) }
        var reply = DBusWriter()
        reply.string("/org/freedesktop/systemd1/job/7")
        let bus = try FakeBus(dir: dir, reply: DBusMessage.encode(
            .methodReturn, serial: 9, fields: [(.replySerial, .uint32(1)), (.signature, .signature("o"))], body: reply.bytes))
        XCTAssertEqual(place(bus: bus.path), .placed(["systemd scope libpod-conmon-abc.scope in machine.slice"]))
        let (auth, call) = bus.received()
        // The uid in hex of its decimal digits (0 -> "30").
        XCTAssertEqual(auth, "\0AUTH EXTERNAL \(String(getuid()).utf8.map { String(format: "%02x", $0) }.joined())\r\n")
        XCTAssertEqual(call, SystemdScope.startTransientUnit(unit: "libpod-conmon-abc.scope", slice: "machine.slice", pid: 4242))
        XCTAssertEqual(DBusMessage.totalLength(of: call), call.count)
        let text = String(decoding: call, as: UTF8.self)
        for part in ["StartTransientUnit", "org.freedesktop.systemd1.Manager", "ssa(sv)a(sa(sv))", "libpod-conmon-abc.scope",
                     "replace", "Slice", "machine.slice", "PIDs", "Delegate", "DefaultDependencies"] {
            XCTAssertTrue(text.contains(part), "the call names \(part)")
        }
    }

    func testSystemdsRefusalIsAFailureWithItsWords() throws {
        let dir = try TemporaryDirectory.make(prefix: "bus")
        defer { try? FileSystem.removeTree(dir) }
        var message = DBusWriter()
        message.string("Unit libpod-conmon-abc.scope already exists.")
        let bus = try FakeBus(dir: dir, reply: DBusMessage.encode(
            .error, serial: 9, fields: [(.errorName, .string("org.freedesktop.systemd1.UnitExists")),
                                        (.replySerial, .uint32(1)), (.signature, .signature("s"))], body: message.bytes))
        XCTAssertEqual(place(bus: bus.path), .failed("cannot run pid 4242 under systemd scope libpod-conmon-abc.scope in machine.slice: "
            + "StartTransientUnit libpod-conmon-abc.scope: org.freedesktop.systemd1.UnitExists: Unit libpod-conmon-abc.scope already exists."))
    }

    /// Wire-format details the spec fixes: the padding before an empty
    /// array's first element, the body after an 8-aligned header.
    func testMarshalling() {
        var w = DBusWriter()
        w.byte(1)
        w.array(elementAlignment: 8) { _ in }
        XCTAssertEqual(w.bytes, [1, 0, 0, 0, 0, 0, 0, 0])
        let message = DBusMessage.encode(.methodCall, serial: 1, fields: [(.member, .string("M"))], body: [9])
        XCTAssertEqual(Array(message.prefix(4)), [UInt8(ascii: "l"), 1, 0, 1])
        XCTAssertEqual(message.count % 8, 1, "the body starts 8-aligned")
        XCTAssertEqual(message.last, 9)
        XCTAssertEqual(SystemdScope.slice(parent: "machine.slice"), "machine.slice")
        XCTAssertEqual(SystemdScope.slice(parent: "user.slice/user-1000.slice"), "user-1000.slice")
        XCTAssertEqual(SystemdScope.slice(parent: "/libpod_parent"), "/libpod_parent")
    }

    /// Replies as another D-Bus implementation marshals them (python's
    /// dbus-next 0.2: a method return with a destination, an error), so
    /// the reader is not only checked against the writer beside it.
    func testRepliesOfAnotherImplementationParse() {
        let methodReturn = Self.bytes("6c02000124000000050000001f000000050175000100000006017300040000003a312e320000000008016700016f00001f0000002f6f72672f667265656465736b746f702f73797374656d64312f6a6f622f3700")
        XCTAssertEqual(DBusMessage.totalLength(of: methodReturn), methodReturn.count)
        XCTAssertEqual(DBusMessage.decodeReply(methodReturn),
                       DBusMessage.Reply(kind: .methodReturn, replySerial: 1, firstString: "/org/freedesktop/systemd1/job/7"))
        let error = Self.bytes("6c0300011b000000060000003f00000004017300230000006f72672e667265656465736b746f702e73797374656d64312e556e697445786973747300000000000501750001000000080167000173000016000000556e6974207820616c7265616479206578697374732e00")
        XCTAssertEqual(DBusMessage.totalLength(of: error), error.count)
        XCTAssertEqual(DBusMessage.decodeReply(error),
                       DBusMessage.Reply(kind: .error, replySerial: 1, errorName: "org.freedesktop.systemd1.UnitExists",
                                         firstString: "Unit x already exists."))
    }

    private static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }
}
