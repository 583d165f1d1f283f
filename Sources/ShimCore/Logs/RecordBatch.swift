import Glibc
import ShimSystem
import SystemPackage

/// CRI records on their way into the log file, written with one writev per
/// batch. Measured on tmpfs, the kernel's cost per iovec segment is higher
/// than copying a short line, and lower than copying a long one, so:
///
/// - prefixes, short lines (up to `copyLimit`) and the newline after a
///   fragment are copied into one staging buffer, consecutive records
///   making a single segment;
/// - a longer line stays where it was read and becomes a segment of its own.
///
/// The staging buffer (64 KiB: a chunk of 100-byte lines takes two batches)
/// is allocated on first use and reused, so steady logging allocates
/// nothing; an idle shim releases it (`releaseBuffers`).
/// Each record's length is kept until the write, so that after a failed
/// write the batch can say which records made it whole.
final class RecordBatch {
    static let stagingCapacity = 64 << 10
    static let copyLimit = 512

    private let segments = WriteVector()
    private var stagingBuffer: UnsafeMutablePointer<UInt8>?
    private var stagedEnd = 0
    /// Start of the staged bytes that are not yet a segment.
    private var runStart = 0
    private var records: [(length: Int, content: Int)] = []
    private var content = 0
    /// The bytes of all records in the batch.
    private(set) var byteCount = 0

    init() {}

    deinit { stagingBuffer?.deallocate() }

    private var staging: UnsafeMutablePointer<UInt8> {
        if let stagingBuffer { return stagingBuffer }
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.stagingCapacity)
        stagingBuffer = fresh
        records.reserveCapacity(1024)
        return fresh
    }

    /// Frees the staging buffer and the record list until the next record
    /// (between batches only: the batch must be empty).
    func releaseBuffers() {
        precondition(isEmpty, "releasing the buffers of a batch that was not written")
        stagingBuffer?.deallocate()
        stagingBuffer = nil
        records = []
    }

    var isEmpty: Bool { records.isEmpty }

    /// Whether a record with a line of `lineLength` bytes fits without
    /// writing the batch first. An empty batch always has room.
    func hasRoom(prefixLength: Int, lineLength: Int) -> Bool {
        let copied = prefixLength + 1 + (lineLength <= Self.copyLimit ? lineLength : 0)
        return stagedEnd + copied <= Self.stagingCapacity && segments.freeSegments >= 3
    }

    /// Adds "<prefix><line>" and, for a fragment, the newline that ends its
    /// record. `line` must stay valid until `write` (it is the read buffer).
    func append(prefix: UnsafePointer<UInt8>, prefixLength: Int, line: UnsafeRawBufferPointer, complete: Bool) {
        stage(UnsafeRawBufferPointer(start: prefix, count: prefixLength))
        if line.count <= Self.copyLimit {
            stage(line)
        } else {
            sealRun()
            segments.append(line)
        }
        if !complete {
            staging[stagedEnd] = UInt8(ascii: "\n")
            stagedEnd += 1
        }
        let length = prefixLength + line.count + (complete ? 0 : 1)
        records.append((length, line.count))
        content += line.count
        byteCount += length
    }

    /// Appends the batch to the file and empties it. Returns the content
    /// bytes (container output, without prefixes) of the records that are
    /// now whole in the file, and the error that stopped the write. A record
    /// the error cut in half is removed from the file again.
    func write(to file: LogFile) -> (storedContent: Int, error: Errno?) {
        defer { removeAll() }
        guard !isEmpty else { return (0, nil) }
        sealRun()
        let result = file.append(segments)
        guard let error = result.error else { return (content, nil) }
        var whole = 0
        var stored = 0
        for record in records {
            if whole + record.length > result.written { break }
            whole += record.length
            stored += record.content
        }
        file.removeTornTail(result.written - whole)
        return (stored, error)
    }

    private func stage(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        UnsafeMutableRawPointer(staging + stagedEnd).copyMemory(from: base, byteCount: bytes.count)
        stagedEnd += bytes.count
    }

    /// Makes the staged bytes since the last segment a segment.
    private func sealRun() {
        guard stagedEnd > runStart else { return }
        segments.append(UnsafeRawBufferPointer(start: staging + runStart, count: stagedEnd - runStart))
        runStart = stagedEnd
    }

    private func removeAll() {
        segments.removeAll()
        records.removeAll(keepingCapacity: true)
        stagedEnd = 0
        runStart = 0
        content = 0
        byteCount = 0
    }
}
