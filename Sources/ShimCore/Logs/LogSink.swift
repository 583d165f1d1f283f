/// One log driver as ContainerLogger drives it. A sink never throws on the
/// write path and never blocks on a failing disk: it reports what happened
/// and the logger turns that into `writeError` and `droppedBytes`.
protocol LogSink: AnyObject {
    /// Stores one chunk (one read's worth of output) as records.
    func write(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer, timestamp: Int64) -> LogSinkOutcome
    /// Sends what the sink held back (journald's unfinished lines).
    func flush() -> LogSinkOutcome
    /// Starts writing to the file at the configured path again.
    func reopen() throws(CoreError)
    /// Makes what was written durable (conmon syncs the log at exit).
    func sync()
    func close()
    /// Frees write buffers until the next record (the shim went idle).
    func releaseBuffers()
}

extension LogSink {
    func releaseBuffers() {}
}

enum LogSinkOutcome: Equatable {
    /// Everything handed over was stored.
    case stored
    /// Nothing reached the destination and nothing was lost either: an empty
    /// chunk, or output held back until its line is complete.
    case unchanged
    /// Storing failed; `droppedBytes` bytes of container output are lost.
    case failed(message: String, droppedBytes: Int)
}
