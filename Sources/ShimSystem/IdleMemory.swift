import CShimSys

/// Memory a quiet shim gives back (EventLoop.onIdle calls this once per
/// quiet period). A shim per container makes memory per shim the density
/// limit of a node, and most shims are idle most of the time: what a burst
/// of work dirtied should not stay with them. Measured per idle shim in
/// docs/BENCHMARKS.md.
public enum IdleMemory {
    /// Stack kept below the caller's frame: room for the next turn of the
    /// loop without faulting pages back in.
    public static let keptStack = 4 << 10

    /// Heap pages freed since the last trim (malloc_trim: from anywhere in
    /// the heap, not only its top) and the stack below the current frame.
    /// Call it after dropping caches (ScratchBuffer.release).
    public static func release() {
        _ = ocishim_trim_heap()
        _ = ocishim_release_unused_stack(keptStack)
    }
}
