import Glibc
import Logging
import ShimSystem

/// The shim's own diagnostics (not the container's log): to stderr (then,
/// once a detached shim is up, to its own file: ShimLogOutput), or to
/// syslog when asked, at the level the engine asks for — conmon's
/// --log-level and --syslog.
public struct ShimLogHandler: LogHandler {
    public enum Sink: Sendable { case stderr, syslog }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let sink: Sink
    private let label: String

    public init(label: String, level: Logger.Level, sink: Sink) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var text = "\(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty {
            text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        switch sink {
        case .stderr:
            ShimLogOutput.shared.write("ocishim[\(getpid())]: \(event.level): \(text)\n")
        case .syslog:
            let priority: Int32 = switch event.level {
            case .trace, .debug: LOG_DEBUG
            case .info: LOG_INFO
            case .notice: LOG_NOTICE
            case .warning: LOG_WARNING
            case .error: LOG_ERR
            case .critical: LOG_CRIT
            }
            text.withCString { msg in
                withVaList([msg]) { vsyslog(priority, "%s", $0) }
            }
        }
    }

    /// Installs the handler for the whole process (once, at start-up).
    public static func bootstrap(level: Logger.Level, sink: Sink) {
        if sink == .syslog { openlog("ocishim", LOG_PID, LOG_DAEMON) }
        LoggingSystem.bootstrap { label in ShimLogHandler(label: label, level: level, sink: sink) }
    }

    /// Messages that went to stderr go to `path` from now on, bounded by
    /// `limit` bytes per file (ShimLogOutput).
    public static func writeToFile(_ path: String, limit: Int) throws(SystemError) {
        try ShimLogOutput.shared.useFile(path, limit: limit)
    }

    /// fd 2 becomes the log file (after `writeToFile`), so that a fatal
    /// error's message from the Swift runtime lands there too. Returns
    /// false when the messages do not go to a file.
    @discardableResult
    public static func captureStandardError() -> Bool { ShimLogOutput.shared.captureStandardError() }

    /// Messages that went to stderr or a file are dropped from now on.
    public static func discardOutput() { ShimLogOutput.shared.discard() }

    /// conmon's level names (plus swift-log's): "debug", "info", "warn", ...
    public static func parseLevel(_ name: String) -> Logger.Level? {
        switch name.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "info": .info
        case "notice": .notice
        case "warn", "warning": .warning
        case "error": .error
        case "fatal", "panic", "critical": .critical
        default: nil
        }
    }
}
