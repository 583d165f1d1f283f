import Glibc

/// The lines of an output chunk, without copying: every driver cuts chunks
/// the same way, a line with its newline, the last one maybe without.
enum ChunkLines {
    /// The line starting at `offset`: up to and including the next newline
    /// (`complete`), or the rest of the chunk.
    static func line(in chunk: UnsafeRawBufferPointer, at offset: Int) -> (line: UnsafeRawBufferPointer, complete: Bool) {
        let start = chunk.baseAddress! + offset
        let remaining = chunk.count - offset
        if let newline = memchr(start, Int32(UInt8(ascii: "\n")), remaining) {
            return (UnsafeRawBufferPointer(start: start, count: start.distance(to: UnsafeRawPointer(newline)) + 1), true)
        }
        return (UnsafeRawBufferPointer(start: start, count: remaining), false)
    }
}
