import Glibc
import ShimSystem
import SystemPackage

/// Asks systemd to put a process into a new transient scope unit, as
/// podman's moveConmonToCgroupAndSignal does for conmon under the systemd
/// cgroup manager (utils.RunUnderSystemdScope): StartTransientUnit on
/// systemd's private bus socket with the unit's slice, the pid, Delegate
/// and no default dependencies. The call is answered once systemd has
/// queued the job; the pid moves when systemd runs it, which it does at
/// once for a scope.
enum SystemdScope {
    /// How long the bus may take to answer: the call is on the shim's loop.
    static let timeoutSeconds = 5

    /// The scope's unit name for a monitor of `containerID`, as podman's
    /// createUnitName("libpod-conmon", id).
    static func unitName(containerID: String) -> String { "libpod-conmon-\(containerID).scope" }

    /// The slice podman asks for: the parent itself, or its last path
    /// component when a path of slices is given ("a.slice/b.slice").
    static func slice(parent: String) -> String {
        let parts = parent.split(separator: "/", omittingEmptySubsequences: false)
        if parent.hasSuffix(".slice") && parts.count > 1, let last = parts.last { return String(last) }
        return parent
    }

    /// The method call, serial 1.
    static func startTransientUnit(unit: String, slice: String, pid: pid_t) -> [UInt8] {
        var body = DBusWriter()
        body.string(unit)
        body.string("replace")
        body.array(elementAlignment: 8) { w in
            w.align(8); w.string("Slice"); w.signature("s"); w.string(slice)
            w.align(8); w.string("PIDs"); w.signature("au")
            w.array(elementAlignment: 4) { w in w.uint32(UInt32(bitPattern: pid)) }
            w.align(8); w.string("Delegate"); w.signature("b"); w.boolean(true)
            w.align(8); w.string("DefaultDependencies"); w.signature("b"); w.boolean(false)
        }
        body.array(elementAlignment: 8) { _ in }  // no auxiliary units
        return DBusMessage.encode(.methodCall, serial: 1, fields: [
            (.path, .objectPath("/org/freedesktop/systemd1")),
            (.interface, .string("org.freedesktop.systemd1.Manager")),
            (.member, .string("StartTransientUnit")),
            (.destination, .string("org.freedesktop.systemd1")),
            (.signature, .signature("ssa(sv)a(sa(sv))")),
        ], body: body.bytes)
    }

    /// Starts the scope; returns the job's object path, or throws with
    /// what the bus or systemd said.
    static func start(unit: String, slice: String, pid: pid_t, bus: String) throws(SystemError) -> String {
        let fd = try UnixSocket.connect(path: bus, type: Int32(SOCK_STREAM.rawValue))
        defer { try? fd.close() }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            _ = setsockopt(fd.rawValue, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        // SASL EXTERNAL: the peer checks our uid, sent as hex of its digits.
        let uid = String(getuid()).utf8.map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
        try FileSystem.writeAll(fd: fd, [0] + Array("AUTH EXTERNAL \(uid)\r\n".utf8), what: "systemd bus \(bus)")
        let answer = try readLine(fd, bus: bus)
        guard answer.hasPrefix("OK ") else {
            throw SystemError("authenticate to systemd at \(bus)", errno: .permissionDenied, reason: "it answered \"\(answer)\"")
        }
        try FileSystem.writeAll(fd: fd, Array("BEGIN\r\n".utf8) + startTransientUnit(unit: unit, slice: slice, pid: pid),
                                what: "systemd bus \(bus)")
        while true {
            let reply = try readMessage(fd, bus: bus)
            guard reply.replySerial == 1 else { continue }  // a signal or someone else's answer
            switch reply.kind {
            case .methodReturn: return reply.firstString ?? ""
            case .error:
                throw SystemError("StartTransientUnit \(unit)", errno: .ioError,
                                  reason: "\(reply.errorName ?? "error"): \(reply.firstString ?? "")")
            default: continue
            }
        }
    }

    private static func readLine(_ fd: FileDescriptor, bus: String) throws(SystemError) -> String {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 512 {
            let n = read(fd.rawValue, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { throw SystemError("read from systemd at \(bus)", errno: n == 0 ? .connectionReset : Errno(rawValue: errno)) }
            if byte == UInt8(ascii: "\n") { break }
            if byte != UInt8(ascii: "\r") { line.append(byte) }
        }
        return String(decoding: line, as: UTF8.self)
    }

    private static func readMessage(_ fd: FileDescriptor, bus: String) throws(SystemError) -> DBusMessage.Reply {
        var message: [UInt8] = []
        while true {
            let want = DBusMessage.totalLength(of: message).map { $0 - message.count } ?? (16 - message.count)
            if want <= 0 && DBusMessage.totalLength(of: message) != nil { break }
            guard message.count < 1 << 20 else { throw SystemError("read from systemd at \(bus)", errno: .messageTooLong) }
            let chunk = try FileSystem.readAll(fd: fd, limit: max(want, 1), what: "systemd bus \(bus)")
            if chunk.isEmpty { throw SystemError("read from systemd at \(bus)", errno: .connectionReset) }
            message += chunk
        }
        guard let reply = DBusMessage.decodeReply(message) else {
            throw SystemError("read from systemd at \(bus)", errno: .badMessage, reason: "a message that does not parse")
        }
        return reply
    }
}
