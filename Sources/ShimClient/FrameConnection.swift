import Glibc
import ShimProtocol
import ShimSystem
import SystemPackage

/// Blocking frame I/O over an fd pair, with an optional timeout per read.
/// The engine side may block; only the shim must not.
public final class FrameConnection {
    public let readFD: FileDescriptor
    public let writeFD: FileDescriptor
    private var decoder = FrameDecoder()
    private var ready: [Frame] = []
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    public private(set) var isClosed = false
    /// The sending side was closed alone (closeWrite); close() must not close
    /// that fd number again, it may belong to someone else by then.
    private var writeClosed = false
    /// Sees every frame sent and received (transcript recording).
    public var observer: ((_ sent: Bool, _ frame: Frame) -> Void)?

    public init(readFD: FileDescriptor, writeFD: FileDescriptor) {
        self.readFD = readFD
        self.writeFD = writeFD
    }

    deinit { close() }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        try? readFD.close()
        if writeFD != readFD && !writeClosed { try? writeFD.close() }
    }

    /// Closes only the sending side (the shim sees EOF), keeps reading.
    public func closeWrite() {
        guard !writeClosed, !isClosed else { return }
        writeClosed = true
        if writeFD == readFD {
            shutdown(writeFD.rawValue, Int32(SHUT_WR))
        } else {
            try? writeFD.close()
        }
    }

    public func send(_ frame: Frame) throws(ClientError) {
        observer?(true, frame)
        try sendRaw(frame.encoded())
    }

    /// Writes bytes as they are: for tests that break the framing on purpose.
    public func sendRaw(_ bytes: [UInt8]) throws(ClientError) {
        do {
            try FileSystem.writeAll(fd: writeFD, bytes, what: "shim connection")
        } catch {
            if error.errno == .brokenPipe { throw .closed }
            throw .system(error)
        }
    }

    /// The next frame; nil at a clean EOF. `timeoutMillis` < 0 waits forever.
    public func receive(timeoutMillis: Int32 = -1) throws(ClientError) -> Frame? {
        let deadline = timeoutMillis < 0 ? Int64.max : Clock.monotonicNanos() + Int64(timeoutMillis) * 1_000_000
        while ready.isEmpty {
            let left = deadline == Int64.max ? -1 : Int32(clamping: max(0, (deadline - Clock.monotonicNanos()) / 1_000_000))
            var pfd = pollfd(fd: readFD.rawValue, events: Int16(POLLIN), revents: 0)
            let p = poll(&pfd, 1, left)
            if p < 0 {
                if errno == EINTR { continue }
                throw .system(SystemError("poll"))
            }
            if p == 0 { throw .timedOut("a frame from the shim") }
            let n = buffer.withUnsafeMutableBytes { read(readFD.rawValue, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if errno == ECONNRESET { return nil }
                throw .system(SystemError("read"))
            }
            if n == 0 {
                if decoder.pendingBytes > 0 {
                    throw .protocolViolation("EOF in the middle of a frame (\(decoder.pendingBytes) bytes)")
                }
                return nil
            }
            var oversized: (UInt32, UInt32)?
            decoder.feed(buffer[0..<n]) { event in
                switch event {
                case .frame(let frame): ready.append(frame)
                case .oversized(let id, let length): oversized = (id, length)
                }
            }
            if let (id, length) = oversized {
                throw .protocolViolation("the shim sent a \(length)-byte frame on stream \(id), over the 4 MiB limit")
            }
        }
        let frame = ready.removeFirst()
        observer?(false, frame)
        return frame
    }
}
