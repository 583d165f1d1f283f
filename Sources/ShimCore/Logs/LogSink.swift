/// One log driver as ContainerLogger drives it. A sink never throws on the
/// write path and never blocks on a failing disk: it reports what happened
/// and the logger turns that into `writeError` and `droppedBytes`.
///
/// A sink may hold back the unfinished last line of each stream (HeldTail)
/// until the read that completes it; the logger decides when a held tail
/// must go out anyway (its deadline, the end of output) and calls `flush`.
protocol LogSink: AnyObject {
    /// Stores one chunk (one read's worth of output) as records; `timestamp`
    /// stamps every record this call writes.
    func write(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer, timestamp: Int64) -> LogSinkOutcome
    /// When the tail held for `stream` started being held (CLOCK_MONOTONIC
    /// nanoseconds), nil when nothing is held.
    func heldSince(_ stream: LogStream) -> Int64?
    /// Stores what is held for `stream` as a partial record stamped `timestamp`.
    func flush(_ stream: LogStream, timestamp: Int64) -> LogSinkOutcome
    /// Starts writing to the file at the configured path again.
    func reopen() throws(CoreError)
    /// Makes what was written durable (conmon syncs the log at exit).
    func sync()
    func close()
    /// Frees write buffers, and hold buffers that hold nothing, until the
    /// next record (the shim went idle).
    func releaseBuffers()
}

enum LogSinkOutcome: Equatable {
    /// Records reached the destination; whatever of the output is not in
    /// them is held (an unfinished last line), nothing was lost.
    case stored
    /// Nothing reached the destination and nothing was lost either: an empty
    /// chunk, or output held back until its line is complete.
    case unchanged
    /// Storing failed; `droppedBytes` bytes of container output are lost.
    case failed(message: String, droppedBytes: Int)
}
