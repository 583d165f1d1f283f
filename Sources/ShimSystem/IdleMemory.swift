import CShimSys

/// Memory a quiet shim gives back (EventLoop.onIdle calls this once per
/// quiet period). A shim per container makes memory per shim the density
/// limit of a node, and most shims are idle most of the time: what a burst
/// of work dirtied should not stay with them. Measured per idle shim in
/// docs/BENCHMARKS.md.
public enum IdleMemory {
    /// Stack kept below the releasing function's frame: only what its own
    /// locals and the madvise call below it use. The next turn of the loop
    /// faults back the page or two it goes deeper (zero-filled, a few
    /// microseconds once per wake-up); a whole page kept for it stayed in
    /// every idle shim.
    public static let keptStack = 1 << 10

    /// Heap pages freed since the last trim (malloc_trim: from anywhere in
    /// the heap, not only its top), the stack below the current frame, and
    /// the mappings of the code (text stays in the page cache, shared by all
    /// shims; the kernel's fault-around maps 64 KiB windows of it, most of
    /// which a sleeping shim never runs again).
    /// Call it after dropping caches (ScratchBuffer.release).
    public static func release() {
        _ = ocishim_trim_heap()
        _ = ocishim_release_unused_stack(keptStack)
        releaseText()
    }

    /// Drops the mappings of every loaded object's executable segments (their
    /// pages are the file's, unchanged, and come back from the page cache on
    /// the next call into them). Returns the bytes covered.
    @discardableResult
    public static func releaseText() -> Int {
        Int(ocishim_release_text())
    }
}
