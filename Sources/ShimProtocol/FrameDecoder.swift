/// Splits a byte stream into frames, one `feed` at a time.
///
/// A frame longer than `FrameHeader.maxDataLength` is not buffered: its data is
/// skipped as it arrives and `.oversized` is reported once, so the connection
/// goes on with the next frame (ttrpc answers RESOURCE_EXHAUSTED on that stream
/// and keeps the connection).
public struct FrameDecoder: Sendable {
    public enum Event: Sendable, Equatable {
        case frame(Frame)
        /// A frame whose declared length exceeds the limit; its data is discarded.
        case oversized(streamID: UInt32, length: UInt32)
    }

    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes of an oversized frame still to be skipped.
    private var skipping = 0
    public let maxDataLength: Int

    public init(maxDataLength: Int = FrameHeader.maxDataLength) {
        self.maxDataLength = maxDataLength
    }

    /// Bytes received but not yet part of a whole frame. Non-zero at EOF means
    /// the peer stopped in the middle of a frame.
    public var pendingBytes: Int { buffer.count - start + skipping }

    /// Appends received bytes and returns every event they complete.
    public mutating func feed<C: Collection>(_ bytes: C) -> [Event] where C.Element == UInt8 {
        var events: [Event] = []
        feed(bytes) { events.append($0) }
        return events
    }

    /// Appends received bytes and calls `emit` for every event they complete.
    public mutating func feed<C: Collection>(_ bytes: C, _ emit: (Event) -> Void) where C.Element == UInt8 {
        Array(bytes).withUnsafeBytes { feed($0, emit) }
    }

    /// The same for bytes in memory, as the shim reads them. Not generic on
    /// purpose: called across modules, a generic `feed` runs unspecialized
    /// and makes the Swift runtime instantiate Slice's metadata and
    /// conformances for the argument's type, which writes caches on pages
    /// that then stay dirty in every idle shim (docs/BENCHMARKS.md, "Scale").
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (Event) -> Void) {
        var input = bytes
        if skipping > 0 {
            let n = min(skipping, input.count)
            skipping -= n
            input = UnsafeRawBufferPointer(rebasing: input[n...])
        }
        buffer.append(contentsOf: input)
        while true {
            let available = buffer.count - start
            guard available >= FrameHeader.size else { break }
            let header = FrameHeader(decoding: buffer[start..<start + FrameHeader.size])
            let length = Int(header.length)
            if length > maxDataLength {
                emit(.oversized(streamID: header.streamID, length: header.length))
                let inBuffer = available - FrameHeader.size
                if inBuffer >= length {
                    start += FrameHeader.size + length
                    continue
                }
                skipping = length - inBuffer
                start = buffer.count
                break
            }
            guard available >= FrameHeader.size + length else { break }
            let dataStart = start + FrameHeader.size
            let payload = Array(buffer[dataStart..<dataStart + length])
            start = dataStart + length
            emit(.frame(Frame(streamID: header.streamID, rawType: header.rawType, flags: header.flags, payload: payload)))
        }
        compact()
    }

    /// Drops consumed bytes; releases the storage when nothing is pending so an
    /// idle connection holds no buffer.
    private mutating func compact() {
        if start == buffer.count {
            buffer = []
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
