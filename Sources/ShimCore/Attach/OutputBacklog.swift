/// Output kept while nobody is attached (exec sessions): the newest
/// `capacity` bytes, in order, with a count of what was dropped to stay
/// within it. Nothing is allocated until output arrives, and the storage
/// goes as soon as it is taken.
struct OutputBacklog {
    let capacity: Int
    private(set) var chunks: [(stream: LogStream, bytes: [UInt8])] = []
    private(set) var byteCount = 0
    private(set) var droppedBytes: UInt64 = 0
    /// Small writes are merged into chunks of up to this size, so a process
    /// that writes one byte at a time does not cost one array per byte.
    private static let mergeLimit = 4096

    init(capacity: Int) { self.capacity = capacity }

    var isEmpty: Bool { chunks.isEmpty && droppedBytes == 0 }

    mutating func append(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        guard capacity > 0 else {
            droppedBytes += UInt64(chunk.count)
            return
        }
        var bytes = UnsafeRawBufferPointer(rebasing: chunk[...])
        if bytes.count > capacity {
            droppedBytes += UInt64(bytes.count - capacity)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - capacity)...])
        }
        if let last = chunks.last, last.stream == stream, last.bytes.count + bytes.count <= Self.mergeLimit {
            chunks[chunks.count - 1].bytes.append(contentsOf: bytes)
        } else {
            chunks.append((stream, Array(bytes)))
        }
        byteCount += bytes.count
        trim()
    }

    /// Drops the oldest bytes beyond the capacity.
    private mutating func trim() {
        var excess = byteCount - capacity
        var remove = 0
        while excess > 0 && remove < chunks.count {
            let size = chunks[remove].bytes.count
            if size <= excess {
                excess -= size
                byteCount -= size
                droppedBytes += UInt64(size)
                remove += 1
            } else {
                chunks[remove].bytes.removeFirst(excess)
                byteCount -= excess
                droppedBytes += UInt64(excess)
                excess = 0
            }
        }
        if remove > 0 { chunks.removeFirst(remove) }
    }

    /// Everything kept, and how much was dropped; empties the backlog.
    mutating func take() -> (chunks: [(stream: LogStream, bytes: [UInt8])], dropped: UInt64) {
        defer {
            chunks = []
            byteCount = 0
            droppedBytes = 0
        }
        return (chunks, droppedBytes)
    }
}
