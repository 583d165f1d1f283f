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
/// The staging buffer (64 KiB: a 256 KiB chunk of 100-byte lines takes six
/// batches) is allocated on first use and reused, so steady logging
/// allocates nothing; an idle shim releases it (`releaseBuffers`).
///
/// `appendLines` takes a whole chunk at a time: the per-line loop keeps its
/// state in local variables, because every access to a stored property of a
/// class inside that loop costs a dynamic exclusivity check (swift_beginAccess
/// and swift_endAccess were 7% of the shim's CPU time with 100-byte lines).
/// Each record's length is kept until the write, so that after a failed
/// write the batch can say which records made it whole.
final class RecordBatch {
    static let stagingCapacity = 64 << 10
    static let copyLimit = 512
    /// Records per batch. Every record stages at least its prefix, so a
    /// batch of short records fills the staging buffer first.
    static let recordCapacity = 2048

    /// The prefixes of one chunk's records: "<timestamp> <stream> F " for a
    /// complete line, the same with P for a fragment; both `length` bytes.
    struct Prefixes {
        var complete: UnsafePointer<UInt8>
        var partial: UnsafePointer<UInt8>
        var length: Int
    }

    /// Why `appendLines` stopped before the end of the chunk.
    enum Stop: Equatable {
        /// Every line of the chunk is in the batch.
        case chunkDone
        /// The batch is full: write it, then go on.
        case batchFull
        /// The next record (of `recordLength` bytes) would take the file past
        /// the size limit.
        case sizeLimit(recordLength: Int)
        /// The rest of the chunk is a line without its newline, short enough
        /// for the caller to hold back (`holdLimit`).
        case unfinishedLine
        /// The log has had all it may take (`totalMax`): the rest goes nowhere.
        case totalLimit
    }

    private let segments = WriteVector()
    private var buffers: (staging: UnsafeMutablePointer<UInt8>, lengths: UnsafeMutablePointer<Int32>)?
    private var stagedEnd = 0
    /// Start of the staged bytes that are not yet a segment.
    private var runStart = 0
    private var recordCount = 0
    /// The prefix length of the records in the batch (a batch holds records
    /// of one chunk, so they share it) and whether the last is a fragment,
    /// which has a newline of its own after its content.
    private var prefixLength = 0
    private var endsWithFragment = false
    /// The bytes of all records in the batch.
    private(set) var byteCount = 0

    init() {}

    deinit { freeBuffers() }

    var isEmpty: Bool { recordCount == 0 }

    private func storage() -> (staging: UnsafeMutablePointer<UInt8>, lengths: UnsafeMutablePointer<Int32>) {
        if let buffers { return buffers }
        let fresh = (UnsafeMutablePointer<UInt8>.allocate(capacity: Self.stagingCapacity),
                     UnsafeMutablePointer<Int32>.allocate(capacity: Self.recordCapacity))
        buffers = fresh
        return fresh
    }

    /// Frees the staging buffer until the next record (between batches only:
    /// the batch must be empty).
    func releaseBuffers() {
        precondition(isEmpty, "releasing the buffers of a batch that was not written")
        freeBuffers()
    }

    private func freeBuffers() {
        buffers?.staging.deallocate()
        buffers?.lengths.deallocate()
        buffers = nil
    }

    /// Adds a record for each line of `chunk` from `offset` on:
    /// "<prefix><line>", and for a fragment (the chunk's tail without a
    /// newline) the newline that ends its record. Stops when the batch is
    /// full (an empty batch takes any record: a long line is a segment of its
    /// own), before a fragment of at most `holdLimit` bytes (the caller holds
    /// it until its line is complete; 0: none is held), or, when
    /// `sizeMax` > 0, before a record that would take a file of `fileSize`
    /// bytes past it (conmon's rule: a record into an empty file is taken
    /// whatever its size). A line longer than `recordLimit` bytes (its
    /// newline counted) is cut into fragments of that size. Returns where
    /// it stopped and why. The chunk must
    /// stay valid and unchanged until `write`.
    /// With `totalMax` > 0 it also stops, for good, before any record once
    /// `totalWritten` plus the batch has reached it (conmon's
    /// --log-global-size-max: the record that crosses it is still written).
    func appendLines(of chunk: UnsafeRawBufferPointer, from start: Int, prefixes: Prefixes,
                     holdLimit: Int, recordLimit: Int = .max, sizeMax: Int64, fileSize: Int64,
                     totalMax: Int64 = 0, totalWritten: Int64 = 0) -> (offset: Int, stop: Stop) {
        let (staging, lengths) = storage()
        if recordCount > 0 { precondition(prefixes.length == prefixLength, "a batch holds the records of one chunk") }
        prefixLength = prefixes.length
        let prefixLength = prefixes.length
        var stagedEnd = self.stagedEnd
        var runStart = self.runStart
        var recordCount = self.recordCount
        var byteCount = self.byteCount
        var endsWithFragment = self.endsWithFragment
        var freeSegments = segments.freeSegments
        var offset = start
        var stop = Stop.chunkDone
        defer {
            self.stagedEnd = stagedEnd
            self.runStart = runStart
            self.recordCount = recordCount
            self.byteCount = byteCount
            self.endsWithFragment = endsWithFragment
        }
        while offset < chunk.count {
            var (line, complete) = ChunkLines.line(in: chunk, at: offset)
            if !complete && line.count <= holdLimit {
                stop = .unfinishedLine
                break
            }
            if line.count > recordLimit {
                line = UnsafeRawBufferPointer(rebasing: line[..<recordLimit])
                complete = false
            }
            if totalMax > 0 && totalWritten + Int64(byteCount) >= totalMax {
                stop = .totalLimit
                break
            }
            let recordLength = prefixLength + line.count + (complete ? 0 : 1)
            if sizeMax > 0 {
                let filled = fileSize + Int64(byteCount)
                if filled > 0 && filled + Int64(recordLength) > sizeMax {
                    stop = .sizeLimit(recordLength: recordLength)
                    break
                }
            }
            let copied = line.count <= Self.copyLimit
            if recordCount > 0 {
                let staged = prefixLength + 1 + (copied ? line.count : 0)
                guard stagedEnd + staged <= Self.stagingCapacity, freeSegments >= 3,
                      recordCount < Self.recordCapacity else {
                    stop = .batchFull
                    break
                }
            }
            (staging + stagedEnd).update(from: complete ? prefixes.complete : prefixes.partial, count: prefixLength)
            stagedEnd += prefixLength
            if copied {
                UnsafeMutableRawPointer(staging + stagedEnd).copyMemory(from: line.baseAddress!, byteCount: line.count)
                stagedEnd += line.count
            } else {
                if stagedEnd > runStart {
                    segments.append(UnsafeRawBufferPointer(start: staging + runStart, count: stagedEnd - runStart))
                    runStart = stagedEnd
                    freeSegments -= 1
                }
                segments.append(line)
                freeSegments -= 1
            }
            if !complete {
                staging[stagedEnd] = UInt8(ascii: "\n")
                stagedEnd += 1
            }
            lengths[recordCount] = Int32(recordLength)
            recordCount += 1
            byteCount += recordLength
            endsWithFragment = !complete
            offset += line.count
        }
        return (offset, stop)
    }

    /// Appends the batch to the file and empties it. Returns the content
    /// bytes (container output, without prefixes) of the records that are
    /// now whole in the file, and the error that stopped the write. A record
    /// the error cut in half is removed from the file again.
    func write(to file: LogFile) -> (storedContent: Int, error: Errno?) {
        defer { removeAll() }
        guard !isEmpty, let (staging, lengths) = buffers else { return (0, nil) }
        if stagedEnd > runStart {
            segments.append(UnsafeRawBufferPointer(start: staging + runStart, count: stagedEnd - runStart))
        }
        let result = file.append(segments)
        guard let error = result.error else {
            return (byteCount - recordCount * prefixLength - (endsWithFragment ? 1 : 0), nil)
        }
        var whole = 0
        var wholeRecords = 0
        while wholeRecords < recordCount && whole + Int(lengths[wholeRecords]) <= result.written {
            whole += Int(lengths[wholeRecords])
            wholeRecords += 1
        }
        let fragmentNewline = wholeRecords == recordCount && endsWithFragment ? 1 : 0
        file.removeTornTail(result.written - whole)
        return (whole - wholeRecords * prefixLength - fragmentNewline, error)
    }

    private func removeAll() {
        segments.removeAll()
        stagedEnd = 0
        runStart = 0
        recordCount = 0
        byteCount = 0
        endsWithFragment = false
    }
}
