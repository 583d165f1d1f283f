import Glibc
import ShimSystem

/// The k8s-file driver: container output as CRI log records, byte for byte
/// what conmon 2.1.6 writes for the same chunks and timestamp.
///
///     <timestamp> <stdout|stderr> F <line>\n     a line that ended in the chunk
///     <timestamp> <stdout|stderr> P <fragment>\n a chunk's tail without newline
///
/// Everything between newlines is content, "\r" included; a lone "\n" is an
/// F record with empty content; a fragment is written at once, not held
/// back. All records of a chunk share one timestamp (conmon stamps a chunk
/// when it reads it), formatted once.
///
/// The records of a chunk go out in RecordBatch writes (one writev per
/// 64 KiB of short records), never a syscall per line. A failed write
/// (ENOSPC, EIO) drops the rest of the chunk and never leaves half a record
/// in front of the next one; the next chunk simply tries again.
final class K8sFileSink: LogSink {
    private let file: LogFile
    private let sizeMax: Int64
    private let oldFiles: Int
    private var timestamps = CRITimestampFormatter()
    private let batch = RecordBatch()

    /// "<timestamp> <stream> F " and the same with P: the prefixes of the
    /// current chunk's records.
    private let prefixes: UnsafeMutablePointer<UInt8>
    private var prefixLength = 0
    private static let slot = CRITimestampFormatter.capacity + 16

    init(path: String, sizeMax: Int64, oldFiles: Int) throws(SystemError) {
        file = try LogFile(path: path)
        self.sizeMax = sizeMax
        self.oldFiles = oldFiles
        prefixes = .allocate(capacity: 2 * Self.slot)
    }

    deinit { prefixes.deallocate() }

    func write(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer, timestamp: Int64) -> LogSinkOutcome {
        guard chunk.baseAddress != nil, chunk.count > 0 else { return .unchanged }
        preparePrefixes(stream, timestamp)
        var stored = 0  // content bytes of this chunk known to be whole in the file
        var offset = 0
        while offset < chunk.count {
            let (line, complete) = ChunkLines.line(in: chunk, at: offset)
            let recordLength = prefixLength + line.count + (complete ? 0 : 1)

            if wouldOverflow(adding: recordLength) {
                if let failure = writeBatch(&stored) { return .failed(message: failure, droppedBytes: chunk.count - stored) }
                file.refreshSize()
                if wouldOverflow(adding: recordLength) {
                    do { try file.startOver(keepingOldFiles: oldFiles) } catch {
                        return .failed(message: error.description, droppedBytes: chunk.count - stored)
                    }
                }
            }
            if !batch.hasRoom(prefixLength: prefixLength, lineLength: line.count), let failure = writeBatch(&stored) {
                return .failed(message: failure, droppedBytes: chunk.count - stored)
            }
            batch.append(prefix: prefixes + (complete ? 0 : Self.slot), prefixLength: prefixLength, line: line,
                         complete: complete)
            offset += line.count
        }
        if let failure = writeBatch(&stored) { return .failed(message: failure, droppedBytes: chunk.count - stored) }
        return .stored
    }

    /// conmon's rule: start over when this record would take the file past
    /// the limit. An empty file takes the record anyway (a record larger
    /// than the limit gets a file of its own rather than being lost).
    private func wouldOverflow(adding recordLength: Int) -> Bool {
        guard sizeMax > 0 else { return false }
        let filled = file.size + Int64(batch.byteCount)
        return filled > 0 && filled + Int64(recordLength) > sizeMax
    }

    private func preparePrefixes(_ stream: LogStream, _ timestamp: Int64) {
        var length = timestamps.format(timestamp, into: prefixes)
        for byte in " \(stream.name) F ".utf8 {
            prefixes[length] = byte
            length += 1
        }
        prefixLength = length
        let partial = prefixes + Self.slot
        partial.update(from: prefixes, count: length)
        partial[length - 2] = UInt8(ascii: "P")
    }

    /// Writes the batch; adds what made it to `stored`; returns the error
    /// text on failure ("write /path: No space left on device").
    private func writeBatch(_ stored: inout Int) -> String? {
        let result = batch.write(to: file)
        stored += result.storedContent
        return result.error.map { SystemError("write \(file.path)", errno: $0).description }
    }

    func flush() -> LogSinkOutcome { .unchanged }

    func reopen() throws(CoreError) {
        do { try file.reopen() } catch { throw CoreError(logFailure: error) }
    }

    func sync() { file.sync() }

    func close() { file.close() }
}
