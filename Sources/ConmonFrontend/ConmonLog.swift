import Glibc
import Logging

/// conmon's own diagnostics, as its src/utils.h macros write them (conmon
/// 2.1.6's exact forms, which tools and tests match):
///
///     stderr                              syslog (--syslog; LOG_ERR / LOG_INFO)
///     nexit   [conmon:e] MSG               conmon CID <error>: MSG
///     nexitf  [conmon:e]: MSG              conmon CID <error>: MSG<space>
///     pexit   [conmon:e]: MSG STRERROR     conmon CID <error>: MSG STRERROR
///     pexitf  [conmon:e]: MSG STRERROR     conmon CID <error>: MSG: STRERROR
///     nwarn   [conmon:w]: MSG              conmon CID <nwarn>: MSG
///     nwarnf  [conmon:w]: MSG              conmon CID <nwarn>: MSG<space>
///     pwarn   [conmon:w]: MSG STRERROR     conmon CID <pwarn>: MSG STRERROR
///     ninfo(f), ndebug(f): as nwarn(f), [conmon:i] <ninfo>, [conmon:d] <ndebug>
///
/// (The printf-style variants end their syslog line in " \n", the others
/// in "\n": a difference tools that read syslog see.)
/// CID is the first 20 characters of "<cid>" or, with --log-tag,
/// "<cid>: <tag>". Warnings need --log-level warn or more, info info,
/// debug debug; errors always print. Every syslog line ends in a newline.
enum ConmonLog {
    enum Level: Int, Comparable, Sendable {
        case error, warn, info, debug, trace
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    nonisolated(unsafe) static var level = Level.warn
    nonisolated(unsafe) static var useSyslog = false
    nonisolated(unsafe) static var logCID = ""

    /// conmon's set_conmon_logs: the level by name (any case); nil for an
    /// unknown name (conmon then exits with "No such log level").
    static func parseLevel(_ name: String) -> Level? {
        switch name.lowercased() {
        case "error", "fatal", "panic": .error
        case "warn", "warning": .warn
        case "info": .info
        case "debug": .debug
        case "trace": .trace
        default: nil
        }
    }

    static func configure(level name: String?, cid: String, syslog: Bool, tag: String?) -> Bool {
        logCID = tag.map { "\(cid): \($0)" } ?? cid
        useSyslog = syslog
        guard let name else { return true }
        guard let parsed = parseLevel(name) else { return false }
        level = parsed
        return true
    }

    static func strerror(_ code: Int32) -> String { String(cString: Glibc.strerror(code)) }

    // --- the macros ----------------------------------------------------------------

    /// nexit: "[conmon:e] MSG" (no colon, as conmon 2.1.6 prints it).
    static func nexit(_ message: String) -> Never {
        emit(stderr: "[conmon:e] \(message)\n", priority: LOG_ERR, tag: "error", syslogText: "\(message)\n")
        exit(1)
    }

    static func nexitf(_ message: String) -> Never {
        emit(stderr: "[conmon:e]: \(message)\n", priority: LOG_ERR, tag: "error", syslogText: "\(message) \n")
        exit(1)
    }

    static func pexit(_ message: String, errno code: Int32 = errno, status: Int32 = 1) -> Never {
        let reason = strerror(code)
        emit(stderr: "[conmon:e]: \(message) \(reason)\n", priority: LOG_ERR, tag: "error", syslogText: "\(message) \(reason)\n")
        exit(status)
    }

    static func pexitf(_ message: String, errno code: Int32 = errno) -> Never {
        let reason = strerror(code)
        emit(stderr: "[conmon:e]: \(message) \(reason)\n", priority: LOG_ERR, tag: "error", syslogText: "\(message): \(reason)\n")
        exit(1)
    }

    /// _pexitf: pexitf's words, then _exit (no atexit handlers).
    static func pexitfNow(_ message: String, errno code: Int32 = errno) -> Never {
        let reason = strerror(code)
        emit(stderr: "[conmon:e]: \(message) \(reason)\n", priority: LOG_ERR, tag: "error", syslogText: "\(message): \(reason)\n")
        _exit(1)
    }

    /// nexitf's words without the exit (the caller ends the monitor its way).
    static func exitMessage(_ message: String) {
        emit(stderr: "[conmon:e]: \(message)\n", priority: LOG_ERR, tag: "error", syslogText: "\(message) \n")
    }

    static func nwarn(_ message: String) { note(.warn, "w", "nwarn", message, formatted: false) }
    static func nwarnf(_ message: String) { note(.warn, "w", "nwarn", message, formatted: true) }
    static func ninfo(_ message: String) { note(.info, "i", "ninfo", message, formatted: false) }
    static func ninfof(_ message: String) { note(.info, "i", "ninfo", message, formatted: true) }
    static func ndebug(_ message: String) { note(.debug, "d", "ndebug", message, formatted: false) }
    static func ndebugf(_ message: String) { note(.debug, "d", "ndebug", message, formatted: true) }

    static func pwarn(_ message: String, errno code: Int32 = errno) {
        guard level >= .warn else { return }
        let reason = strerror(code)
        emit(stderr: "[conmon:w]: \(message) \(reason)\n", priority: LOG_INFO, tag: "pwarn", syslogText: "\(message) \(reason)\n")
    }

    private static func note(_ wanted: Level, _ letter: String, _ tag: String, _ message: String, formatted: Bool) {
        guard level >= wanted else { return }
        emit(stderr: "[conmon:\(letter)]: \(message)\n", priority: LOG_INFO, tag: tag,
             syslogText: formatted ? "\(message) \n" : "\(message)\n")
    }

    /// A line for syslog only (what conmon's runtime child logs there while
    /// its stderr is the runtime's stderr pipe).
    static func syslogOnly(tag: String, _ text: String) {
        guard useSyslog else { return }
        sendSyslog(priority: LOG_ERR, "conmon \(String(logCID.prefix(20))) <\(tag)>: \(text)")
    }

    private static func sendSyslog(priority: Int32, _ line: String) {
        line.withCString { msg in
            withVaList([msg]) { vsyslog(priority, "%s", $0) }
        }
    }

    private static func emit(stderr text: String, priority: Int32, tag: String, syslogText: String) {
        _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
        guard useSyslog else { return }
        sendSyslog(priority: priority, "conmon \(String(logCID.prefix(20))) <\(tag)>: \(syslogText)")
    }
}

/// The core's own messages in the monitor: conmon has no such messages, so
/// they go out at conmon's debug level (where conmon's own chatter is), in
/// conmon's format, and never at the warning or error levels engines and
/// tests match.
struct ConmonCoreLogHandler: LogHandler {
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        ConmonLog.ndebugf("\(event.level): \(event.message)")
    }

    static func bootstrap() {
        LoggingSystem.bootstrap { _ in ConmonCoreLogHandler() }
    }
}
