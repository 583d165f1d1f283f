/// One read buffer for the whole shim. The loop reads one fd at a time, so
/// every reader (clients, container output) can share it; an idle shim then
/// holds one buffer instead of one per fd. Allocated on first use so a shim
/// that never reads much never touches its pages.
public final class ScratchBuffer {
    public let capacity: Int
    private var storage: UnsafeMutableRawBufferPointer?

    public init(capacity: Int = 64 << 10) {
        self.capacity = capacity
    }

    deinit { storage?.deallocate() }

    /// Frees the buffer until the next use (an idle shim holds none). Only
    /// between reads: no reader keeps `bytes` across turns of the loop.
    public func release() {
        storage?.deallocate()
        storage = nil
    }

    public var bytes: UnsafeMutableRawBufferPointer {
        if let storage { return storage }
        let fresh = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        storage = fresh
        return fresh
    }
}
