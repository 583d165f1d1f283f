import Glibc
import SystemPackage

/// A batch of byte ranges for one writev(2) or sendmsg(2): gather output
/// from many places (a shared header, slices of a read buffer) into one
/// syscall without copying it.
///
/// The segments only point at memory: the caller keeps that memory alive and
/// unchanged until `write(to:)` (or `withSegments`) returns. The segment
/// array itself is allocated once and reused, so a steady stream of batches
/// allocates nothing.
public final class WriteVector {
    /// Linux's IOV_MAX (UIO_MAXIOV): writev rejects more segments with EINVAL.
    public static let systemSegmentLimit = 1024

    /// The outcome of `write(to:)`: how many bytes reached the fd, and the
    /// error that stopped it early, if any.
    public struct WriteResult: Equatable, Sendable {
        public var written: Int
        public var error: Errno?

        public init(written: Int, error: Errno?) {
            self.written = written
            self.error = error
        }
    }

    public let capacity: Int
    public private(set) var count = 0
    /// The bytes all segments add up to.
    public private(set) var byteCount = 0
    private let segments: UnsafeMutablePointer<iovec>

    public init(capacity: Int = WriteVector.systemSegmentLimit) {
        precondition(capacity > 0 && capacity <= Self.systemSegmentLimit, "WriteVector capacity \(capacity)")
        self.capacity = capacity
        segments = .allocate(capacity: capacity)
    }

    deinit { segments.deallocate() }

    public var isEmpty: Bool { count == 0 }
    public var freeSegments: Int { capacity - count }

    /// Adds a segment; empty ranges are skipped (they would only cost a slot).
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(count < capacity, "WriteVector is full")
        segments[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: bytes.count)
        count += 1
        byteCount += bytes.count
    }

    public func removeAll() {
        count = 0
        byteCount = 0
    }

    /// The segments as an iovec array, for sendmsg(2) and friends.
    public func withSegments<R>(_ body: (UnsafeMutablePointer<iovec>, Int) throws -> R) rethrows -> R {
        try body(segments, count)
    }

    /// Writes every segment to a blocking fd, in order, with as few writev
    /// calls as the kernel allows: a short write continues where it stopped,
    /// EINTR is retried. The first other error ends it; `written` then says
    /// how far the output got, so the caller can repair a torn tail. The
    /// vector is empty afterwards either way.
    public func write(to fd: FileDescriptor) -> WriteResult {
        defer { removeAll() }
        var first = 0
        var written = 0
        while first < count {
            let n = writev(fd.rawValue, segments + first, Int32(count - first))
            if n < 0 {
                if errno == EINTR { continue }
                return WriteResult(written: written, error: Errno(rawValue: errno))
            }
            // Zero progress with bytes left would loop forever; the kernel
            // only does this for a device that cannot take data.
            if n == 0 { return WriteResult(written: written, error: .ioError) }
            written += n
            first = advance(from: first, by: n)
        }
        return WriteResult(written: written, error: nil)
    }

    /// Drops `n` written bytes from the front of the segments starting at
    /// `first`; returns the first segment with bytes left.
    private func advance(from first: Int, by n: Int) -> Int {
        var index = first
        var rest = n
        while rest > 0 {
            let length = segments[index].iov_len
            if rest < length {
                segments[index].iov_base = segments[index].iov_base.map { $0 + rest }
                segments[index].iov_len = length - rest
                return index
            }
            rest -= length
            index += 1
        }
        return index
    }
}
