import Glibc
import ShimSystem

/// The k8s-file driver: container output as CRI log records, in conmon
/// 2.1.6's format (`<timestamp> <stdout|stderr> <F|P> <content>`):
///
///     <timestamp> <stream> F <line>\n       a line, with its newline
///     <timestamp> <stream> P <fragment>\n   part of a line; the next record
///                                           of the stream goes on with it
///
/// Everything between newlines is content, "\r" included; a lone "\n" is an
/// F record with empty content.
///
/// A line is split into records only when it is longer than the hold
/// (`holdCapacity`, 16 KiB), as containerd's CRI logger does with its
/// default max_container_log_line_size, not wherever a read happened to end
/// (conmon writes a P record for every read that ends inside a line: with
/// 100-byte lines about 12,000 of every million lines are split in two).
/// The unfinished last line of a read is held per stream (HeldTail) and the
/// read that brings its newline writes it as one F record. A held tail is
/// written as a P record when
///
/// - the next piece of its line does not fit in the hold: the line is
///   longer than 16 KiB, so it is split, the hold filled first (a line that
///   arrives within one read is one record whatever its length);
/// - its deadline passes (ContainerLogger.flushDelayNanos), so that a prompt
///   without a newline still reaches the log promptly;
/// - the output ends, the shim records the container's exit, an attach
///   client replays the log, or the log is closed (ContainerLogger.flush).
///
/// With a record limit (`recordLimit`, LogConfig.recordLimit) no record
/// holds more than that many bytes of a line (its newline counted): a
/// longer line is written as P records of that size and the rest, wherever
/// the reads ended, and a held tail is at most that long. conmon's records
/// are bounded so by its 8 KiB read buffer (STDIO_BUF_SIZE).
///
/// Timestamps: a record carries the time of the read that completes it (or
/// of the flush that writes it), as containerd's logger stamps a line when
/// it has read it whole; conmon stamps a read, and so do we for every line
/// that ends in it. So records are stamped in the order they are written,
/// and a joined line is stamped when it was complete, at most a few reads
/// (or, for a tail written at its deadline, the deadline) after its first
/// byte was read. All records of one write share one timestamp, formatted
/// once.
///
/// The records of a chunk go out in RecordBatch writes (one writev per
/// 64 KiB of short records), never a syscall per line; a held tail costs a
/// copy of at most 16 KiB and no syscall. A failed write (ENOSPC, EIO)
/// drops the rest of the chunk and the held tail and never leaves half a
/// record in front of the next one; the next chunk simply tries again.
/// Held bytes are not in the file, so the size limit counts them when their
/// record is written, and a rotation or reopen meanwhile puts the whole
/// line into the new file.
final class K8sFileSink: LogSink {
    /// The longest line held back whole. containerd's CRI logger splits at
    /// the same length (max_container_log_line_size, 16 KiB), so CRI
    /// readers see the same records from both; it is 160 times a typical
    /// 100-byte line, and costs 32 KiB (both streams) only while output is
    /// flowing mid-line: the buffers are freed when the shim goes idle.
    static let holdCapacity = 16 << 10

    /// The longest line (or tail) held back whole.
    private let hold: Int
    /// The most bytes of a line one record holds; Int.max: no limit.
    private let recordLimit: Int
    private let file: LogFile
    private let sizeMax: Int64
    private let oldFiles: Int
    /// > 0: the records this sink may write in all (LogConfig.totalSizeMax).
    private let totalSizeMax: Int64
    /// Bytes of records written so far, over every file.
    private var totalWritten: Int64 = 0
    /// `reopen()` starts the file over (LogConfig.reopenStartsOver).
    private let reopenStartsOver: Bool
    private var timestamps = CRITimestampFormatter()
    private let batch = RecordBatch()
    private let heldStdout: HeldTail
    private let heldStderr: HeldTail

    /// "<timestamp> <stream> F " and the same with P: the prefixes of the
    /// current chunk's records.
    private let prefixes: UnsafeMutablePointer<UInt8>
    private static let slot = CRITimestampFormatter.capacity + 16

    init(path: String, sizeMax: Int64, oldFiles: Int, totalSizeMax: Int64 = -1, reopenStartsOver: Bool = false,
         fileMode: mode_t = 0o600, followSymlinks: Bool = false, recordLimit: Int? = nil,
         monotonicNanos: @escaping () -> Int64) throws(SystemError) {
        file = try LogFile(path: path, mode: fileMode, followSymlinks: followSymlinks)
        hold = min(Self.holdCapacity, recordLimit ?? Self.holdCapacity)
        self.recordLimit = recordLimit ?? .max
        self.sizeMax = sizeMax
        self.oldFiles = oldFiles
        self.totalSizeMax = totalSizeMax
        self.reopenStartsOver = reopenStartsOver
        heldStdout = HeldTail(capacity: hold, monotonicNanos: monotonicNanos)
        heldStderr = HeldTail(capacity: hold, monotonicNanos: monotonicNanos)
        prefixes = .allocate(capacity: 2 * Self.slot)
    }

    deinit { prefixes.deallocate() }

    func held(_ stream: LogStream) -> HeldTail { stream == .stdout ? heldStdout : heldStderr }

    func write(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer, timestamp: Int64) -> LogSinkOutcome {
        guard chunk.baseAddress != nil, chunk.count > 0 else { return .unchanged }
        let held = held(stream)
        // Container output this call answers for: stored, held or dropped.
        let handed = held.count + chunk.count
        // The held tail's record comes first: its line complete (F), or too
        // long to hold any further (P), the hold filled first, so that a
        // long line is cut every `hold` bytes wherever the reads ended.
        var heldRecord: UnsafeRawBufferPointer?
        var from = 0
        if !held.isEmpty {
            let (first, complete) = ChunkLines.line(in: chunk, at: 0)
            if held.count + first.count <= hold {
                held.append(first)
                if !complete { return .unchanged }
                from = first.count
            } else {
                from = hold - held.count
                held.append(UnsafeRawBufferPointer(rebasing: first[..<from]))
            }
            heldRecord = held.bytes
        }
        let prefixes = preparePrefixes(stream, timestamp)
        var stored = 0  // content bytes known to be whole in the file
        var failure = heldRecord.flatMap { append($0, prefixes, holdLimit: 0, &stored).failure }
        // The rest of the chunk; its own unfinished line is held unless it
        // is too long.
        var tailStart = chunk.count
        if failure == nil && from < chunk.count {
            let rest = append(UnsafeRawBufferPointer(rebasing: chunk[from...]), prefixes,
                              holdLimit: hold, &stored)
            failure = rest.failure
            tailStart = from + rest.end
        }
        if failure == nil { failure = writeBatch(&stored) }
        // Only now: the batch pointed into the held bytes until it was written.
        held.removeAll()
        if let failure { return .failed(message: failure, droppedBytes: handed - stored) }
        if tailStart < chunk.count { held.append(UnsafeRawBufferPointer(rebasing: chunk[tailStart...])) }
        return stored > 0 ? .stored : .unchanged
    }

    func heldSince(_ stream: LogStream) -> Int64? {
        let held = held(stream)
        return held.isEmpty ? nil : held.since
    }

    func flush(_ stream: LogStream, timestamp: Int64) -> LogSinkOutcome {
        let held = held(stream)
        guard !held.isEmpty else { return .unchanged }
        var stored = 0
        var failure = append(held.bytes, preparePrefixes(stream, timestamp), holdLimit: 0, &stored).failure
        if failure == nil { failure = writeBatch(&stored) }
        let handed = held.count
        held.removeAll()
        if let failure { return .failed(message: failure, droppedBytes: handed - stored) }
        return .stored
    }

    /// Adds a record for each line of `lines` to the batch, but for a last
    /// line without newline of at most `holdLimit` bytes, writing the batch
    /// whenever it is full and starting the file over at the size limit.
    /// Leaves the last batch unwritten. Returns where the records end (the
    /// held line starts) and the error text on failure ("write /path: No
    /// space left on device").
    private func append(_ lines: UnsafeRawBufferPointer, _ prefixes: RecordBatch.Prefixes, holdLimit: Int,
                        _ stored: inout Int) -> (end: Int, failure: String?) {
        var offset = 0
        while true {
            let (next, stop) = batch.appendLines(of: lines, from: offset, prefixes: prefixes, holdLimit: holdLimit,
                                                 recordLimit: recordLimit, sizeMax: sizeMax, fileSize: file.size,
                                                 totalMax: totalSizeMax, totalWritten: totalWritten)
            offset = next
            switch stop {
            case .chunkDone, .unfinishedLine:
                return (offset, nil)
            case .totalLimit:
                // Dropped on purpose, like conmon: counted as taken care of.
                stored += lines.count - offset
                return (lines.count, nil)
            case .batchFull:
                if let failure = writeBatch(&stored) { return (offset, failure) }
            case .sizeLimit(let recordLength):
                // conmon's rule: start over when the next record would take
                // the file past the limit. Ask the kernel first: an outside
                // copy-and-truncate rotation may have made room.
                if let failure = writeBatch(&stored) { return (offset, failure) }
                file.refreshSize()
                if file.size > 0 && file.size + Int64(recordLength) > sizeMax {
                    do { try file.startOver(keepingOldFiles: oldFiles) } catch { return (offset, error.description) }
                }
            }
        }
    }

    /// The prefixes of this chunk's records; the timestamp is formatted once.
    private func preparePrefixes(_ stream: LogStream, _ timestamp: Int64) -> RecordBatch.Prefixes {
        var length = timestamps.format(timestamp, into: prefixes)
        let tag: StaticString = stream == .stdout ? " stdout F " : " stderr F "
        (prefixes + length).update(from: tag.utf8Start, count: tag.utf8CodeUnitCount)
        length += tag.utf8CodeUnitCount
        let partial = prefixes + Self.slot
        partial.update(from: prefixes, count: length)
        partial[length - 2] = UInt8(ascii: "P")
        return RecordBatch.Prefixes(complete: prefixes, partial: partial, length: length)
    }

    /// Writes the batch; adds what made it to `stored`; returns the error
    /// text on failure ("write /path: No space left on device").
    private func writeBatch(_ stored: inout Int) -> String? {
        let before = file.size
        let result = batch.write(to: file)
        totalWritten += max(0, file.size - before)
        stored += result.storedContent
        return result.error.map { SystemError("write \(file.path)", errno: $0).description }
    }

    func reopen() throws(CoreError) {
        do {
            if reopenStartsOver {
                try file.startOver(keepingOldFiles: oldFiles)
            } else {
                try file.reopen()
            }
        } catch {
            throw CoreError(logFailure: error)
        }
    }

    func sync() { file.sync() }

    func releaseBuffers() {
        batch.releaseBuffers()
        heldStdout.release()
        heldStderr.release()
    }

    func close() { file.close() }
}
