/// The unfinished last line of one output stream, held back by a log driver
/// so that the read that brings its newline can store the line as one
/// record (K8sFileSink, JournaldSink).
///
/// The buffer is allocated when a tail is first held and kept while output
/// flows (a writer whose writes do not end at line ends leaves a tail after
/// almost every read); `release()` frees it once it is empty, when the shim
/// goes idle. An idle container's log holds no hold buffer.
final class HeldTail {
    /// Bytes the buffer takes; the driver decides what it lets in.
    let capacity: Int
    private var storage: UnsafeMutableRawPointer?
    private(set) var count = 0
    /// CLOCK_MONOTONIC nanoseconds at which the first held byte was handed
    /// over: when the tail's flush deadline started.
    private(set) var since: Int64 = 0
    private let monotonicNanos: () -> Int64

    init(capacity: Int, monotonicNanos: @escaping () -> Int64) {
        self.capacity = capacity
        self.monotonicNanos = monotonicNanos
    }

    deinit { storage?.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// Whether the buffer is allocated (for the idle-memory tests).
    var holdsMemory: Bool { storage != nil }

    /// The held bytes; valid until the next `append`, `removeAll` or `release`.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

    /// Appends `piece`; the caller has checked that it fits.
    func append(_ piece: UnsafeRawBufferPointer) {
        precondition(count + piece.count <= capacity, "held tail overflows its buffer")
        guard let base = piece.baseAddress, piece.count > 0 else { return }
        let buffer = storage ?? {
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            storage = fresh
            return fresh
        }()
        if count == 0 { since = monotonicNanos() }
        (buffer + count).copyMemory(from: base, byteCount: piece.count)
        count += piece.count
    }

    /// Forgets the held bytes (written or lost); keeps the buffer for the
    /// next tail.
    func removeAll() { count = 0 }

    /// Frees the buffer if nothing is held.
    func release() {
        guard count == 0 else { return }
        storage?.deallocate()
        storage = nil
    }
}
