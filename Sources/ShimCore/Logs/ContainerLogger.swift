/// The container's log: what conmon's ctr_logging does, for one container,
/// on the shim's one thread.
///
/// The shim reads the container's stdout and stderr (or the pty master, all
/// stdout) in large chunks and hands each chunk over with one timestamp
/// taken at the read:
///
///     let logger = try ContainerLogger(config: config)
///     logger.onErrorChange = { error in ... }       // an event for the engine
///     logger.scheduleFlush = { nanos, body in loop.schedule(afterNanos: nanos, body) }
///     logger.write(.stdout, chunk, timestamp: Clock.realtimeNanos())
///     logger.flush()                                // at EOF of the output, at exit
///     logger.reopen()                               // ReopenLog, ctl "2 0 0"
///     logger.close()
///
/// Every record goes to each driver in `config.drivers` order (k8s-file:
/// K8sFileSink, journald: JournaldSink; none: nothing).
///
/// Unfinished lines: the drivers hold the last line of a read until the
/// read that brings its newline, so that a line is split into records only
/// when it is longer than a driver's hold (K8sFileSink.holdCapacity), not
/// wherever a read ended. So that a prompt without a newline still reaches
/// the log, a held tail is written as a partial record once it has been
/// held for `flushDelayNanos`: the logger asks its owner for one timer
/// (`scheduleFlush`) when a tail starts being held and no timer is pending,
/// never per chunk, and the timer calls `flushDue()`. Without a scheduler
/// (tests) the owner calls `flushDue()` itself. `flush()` writes every held
/// tail at once: at the end of output, when the exit is recorded, before the
/// log is replayed to an attach client, and on close.
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

    /// How long an unfinished line is held before it is written as a
    /// partial record: 100 ms. Long enough that a writer which puts out a
    /// line in several writes in a row is not split by it, even when it is
    /// preempted between two writes on a busy node (a runnable task waits
    /// milliseconds for a CPU, not a tenth of a second); short enough that
    /// someone following the log (`podman logs -f`, `kubectl logs -f`) sees
    /// a prompt as promptly as anything else (0.1 s is the usual limit for a
    /// response to feel immediate). It costs at most one timer per 100 ms
    /// while output flows, none while it does not. Attach clients get output
    /// at once either way; only the log waits.
    public static let flushDelayNanos: Int64 = 100_000_000

    /// Runs `body` once after `afterNanos` (the shim's EventLoop.schedule);
    /// nil: nothing flushes held tails on a timer, the owner calls
    /// `flushDue()` or `flush()`.
    public var scheduleFlush: ((_ afterNanos: Int64, _ body: @escaping () -> Void) -> Void)?
    /// A scheduled flush is pending.
    private var flushScheduled = false
    /// Both streams, without an array literal (an allocation) per chunk.
    private static let streams: [LogStream] = [.stdout, .stderr]
    private let clock: LogClock

    /// Opens the k8s-file files (created, appended to, mode 0600); journald
    /// connects on the first record. Fails on a configuration conmon refuses
    /// and on a log file that cannot be opened.
    public init(config: LogConfig, clock: LogClock = .system) throws(CoreError) {
        try config.validate()
        self.clock = clock
        var sinks: [any LogSink] = []
        for driver in config.activeDrivers {
            switch driver {
            case .k8sFile(let path):
                do {
                    sinks.append(try K8sFileSink(path: path, sizeMax: config.sizeMax, oldFiles: config.maxFiles,
                                                 totalSizeMax: config.totalSizeMax, reopenStartsOver: config.reopenStartsOver,
                                                 fileMode: config.fileMode, followSymlinks: config.followSymlinks,
                                                 recordLimit: config.recordLimit, monotonicNanos: clock.monotonicNanos))
                } catch {
                    throw CoreError(logFailure: error)
                }
            case .journald(let socketPath):
                let fields = JournalFields(containerID: config.containerID, name: config.containerName, tag: config.tag,
                                           labels: config.labels)
                sinks.append(JournaldSink(socketPath: socketPath, fields: fields, partialField: config.partialMessageField,
                                          monotonicNanos: clock.monotonicNanos))
            case .none:
                break
            }
        }
        self.sinks = sinks
        sinkErrors = Array(repeating: nil, count: sinks.count)
    }

    /// One read's worth of output. `timestamp`: Unix time in nanoseconds,
    /// taken once per read; every record this write stores carries it
    /// (including a held line it completes).
    public func write(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer, timestamp: Int64) {
        for index in sinks.indices {
            record(sinks[index].write(stream, chunk, timestamp: timestamp), from: index)
        }
        // One pending timer covers every held tail: it re-arms itself for
        // the next deadline when it fires. Steady output pays a flag check.
        if !flushScheduled, scheduleFlush != nil, let deadline = flushDeadline {
            armFlush(at: deadline)
        }
    }

    /// When the oldest held tail is due (CLOCK_MONOTONIC nanoseconds), nil
    /// when nothing is held.
    public var flushDeadline: Int64? {
        var oldest: Int64?
        for sink in sinks {
            for stream in Self.streams {
                if let since = sink.heldSince(stream), since < oldest ?? .max { oldest = since }
            }
        }
        return oldest.map { $0 + Self.flushDelayNanos }
    }

    /// Writes the held tails whose deadline has passed, as partial records
    /// stamped now; younger ones stay held.
    public func flushDue() {
        let now = clock.monotonicNanos()
        var timestamp: Int64?
        for index in sinks.indices {
            for stream in Self.streams {
                guard let since = sinks[index].heldSince(stream), now - since >= Self.flushDelayNanos else { continue }
                let stamp = timestamp ?? clock.realtimeNanos()
                timestamp = stamp
                record(sinks[index].flush(stream, timestamp: stamp), from: index)
            }
        }
    }

    /// Writes every held tail now, as partial records stamped now. Call
    /// when the container's output ends or its exit is recorded, and before
    /// reading the log back; `close()` does too.
    public func flush() {
        var timestamp: Int64?
        for index in sinks.indices {
            for stream in Self.streams where sinks[index].heldSince(stream) != nil {
                let stamp = timestamp ?? clock.realtimeNanos()
                timestamp = stamp
                record(sinks[index].flush(stream, timestamp: stamp), from: index)
            }
        }
    }

    private func armFlush(at deadline: Int64) {
        guard let scheduleFlush else { return }
        flushScheduled = true
        scheduleFlush(max(0, deadline - clock.monotonicNanos())) { [weak self] in
            guard let self else { return }
            flushScheduled = false
            flushDue()
            if let next = flushDeadline { armFlush(at: next) }
        }
    }

    /// Reopens the file(s) at their configured paths, for rotation done
    /// outside the shim: what is at the path now is appended to (a new file
    /// if it was renamed away). Unlike conmon, which replaces the file with
    /// an empty one, a reopen never discards log content. A held tail stays
    /// held: its whole line goes to the new file. Throws when a file cannot
    /// be opened; that driver keeps writing to its old file.
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

    /// Frees the drivers' write buffers, and their hold buffers when they
    /// hold nothing, until the next record: an idle container's log costs
    /// no buffer memory. (A held tail is written at its deadline, well
    /// before the shim counts as idle.)
    public func releaseBuffers() {
        for sink in sinks { sink.releaseBuffers() }
    }

    /// Flushes and closes; later writes are discarded. A pending flush
    /// timer finds nothing to do.
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
