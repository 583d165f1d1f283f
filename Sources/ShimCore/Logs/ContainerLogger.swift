/// The container's log: what conmon's ctr_logging does, for one container,
/// on the shim's one thread.
///
/// The shim reads the container's stdout and stderr (or the pty master, all
/// stdout) in large chunks and hands each chunk over with one timestamp
/// taken at the read:
///
///     let logger = try ContainerLogger(config: config)
///     logger.onErrorChange = { error in ... }       // an event for the engine
///     logger.write(.stdout, chunk, timestamp: Clock.realtimeNanos())
///     logger.flush()                                // at EOF of the output
///     logger.reopen()                               // ReopenLog, ctl "2 0 0"
///     logger.close()
///
/// Every record goes to each driver in `config.drivers` order (k8s-file:
/// K8sFileSink, journald: JournaldSink; none: nothing).
///
/// Failures never block or throw on the write path: the lost bytes are
/// counted in `droppedBytes` (summed over the drivers that lost them), and
/// `writeError` holds the first failing driver's error ("write /path: No
/// space left on device") until that driver stores output again. Each write
/// tries again.
public final class ContainerLogger {
    private var sinks: [any LogSink]
    /// The last error of each sink, nil while it works.
    private var sinkErrors: [String?]

    public private(set) var writeError: String?
    public private(set) var droppedBytes: UInt64 = 0
    /// Called whenever `writeError` changes (nil: writing works again).
    public var onErrorChange: ((String?) -> Void)?

    /// Opens the k8s-file files (created, appended to, mode 0600); journald
    /// connects on the first record. Fails on a configuration conmon refuses
    /// and on a log file that cannot be opened.
    public init(config: LogConfig) throws(CoreError) {
        try config.validate()
        var sinks: [any LogSink] = []
        for driver in config.activeDrivers {
            switch driver {
            case .k8sFile(let path):
                do {
                    sinks.append(try K8sFileSink(path: path, sizeMax: config.sizeMax, oldFiles: config.maxFiles))
                } catch {
                    throw CoreError(logFailure: error)
                }
            case .journald(let socketPath):
                let fields = JournalFields(containerID: config.containerID, name: config.containerName, tag: config.tag)
                sinks.append(JournaldSink(socketPath: socketPath, fields: fields))
            case .none:
                break
            }
        }
        self.sinks = sinks
        sinkErrors = Array(repeating: nil, count: sinks.count)
    }

    /// One read's worth of output. `timestamp`: Unix time in nanoseconds,
    /// taken once per read; every record of the chunk carries it.
    public func write(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer, timestamp: Int64) {
        for index in sinks.indices {
            record(sinks[index].write(stream, chunk, timestamp: timestamp), from: index)
        }
    }

    /// Stores what drivers hold back: journald keeps the unfinished last
    /// line of each stream to join it with the next read, as conmon does.
    /// Call when the container's output ends; `close()` does too.
    public func flush() {
        for index in sinks.indices {
            record(sinks[index].flush(), from: index)
        }
    }

    /// Reopens the file(s) at their configured paths, for rotation done
    /// outside the shim: what is at the path now is appended to (a new file
    /// if it was renamed away). Unlike conmon, which replaces the file with
    /// an empty one, a reopen never discards log content. Throws when a
    /// file cannot be opened; that driver keeps writing to its old file.
    public func reopen() throws(CoreError) {
        var firstError: CoreError?
        for sink in sinks {
            do { try sink.reopen() } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    /// fsync of the log files: conmon syncs the log when the container has
    /// exited (unless --no-sync-log).
    public func sync() {
        for sink in sinks { sink.sync() }
    }

    /// Frees the drivers' write buffers until the next record: an idle
    /// container's log costs no buffer memory.
    public func releaseBuffers() {
        for sink in sinks { sink.releaseBuffers() }
    }

    /// Flushes and closes; later writes are discarded.
    public func close() {
        flush()
        for sink in sinks { sink.close() }
        sinks = []
        sinkErrors = []
    }

    private func record(_ outcome: LogSinkOutcome, from index: Int) {
        switch outcome {
        case .unchanged:
            return
        case .stored:
            if sinkErrors[index] == nil { return }
            sinkErrors[index] = nil
        case .failed(let message, let dropped):
            droppedBytes += UInt64(dropped)
            sinkErrors[index] = message
        }
        let current = sinkErrors.lazy.compactMap { $0 }.first
        if current != writeError {
            writeError = current
            onErrorChange?(current)
        }
    }
}
