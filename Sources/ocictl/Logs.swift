import ArgumentParser
import Glibc
import ShimClient
import ShimCore
import ShimProtocol
import ShimSystem

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a container's log (k8s-file), stdout and stderr apart.",
        discussion: """
            --tail N prints the last N lines (0: none, so `--tail 0 -f` prints only what comes \
            next); --since takes an RFC 3339 time (2026-12-07T10:00:00Z), a duration before now \
            (10m, 1h30m) or Unix seconds; --timestamps puts each line's time (RFC 3339, as the \
            log records it) in front of it.
            """)
    @OptionGroup var address: ShimAddress
    @Flag(name: [.short, .long], help: "Keep printing until the container has exited.") var follow = false
    @Option(name: [.customShort("n"), .long], help: "Only the last N lines (default: all).") var tail: Int?
    @Option(help: "Only lines logged at or after this time.") var since: String?
    @Flag(name: [.short, .long], help: "Show each line's time.") var timestamps = false
    @Argument(help: "The container id.") var id: String

    func validate() throws {
        if let tail, tail < 0 { throw ValidationError("--tail must be 0 or more") }
        if let since, Self.sinceNanos(since, now: 0) == nil {
            throw ValidationError("--since \(since): give an RFC 3339 time, a duration (10m, 1h) or Unix seconds")
        }
    }

    /// `--since` as Unix nanoseconds.
    static func sinceNanos(_ text: String, now: Int64) -> Int64? {
        if let time = TimeText.parseRFC3339(text) { return time }
        if let seconds = Double(text), seconds >= 0 { return Int64(seconds * 1e9) }
        if let duration = TimeText.parseDuration(text) { return now - duration }
        return nil
    }

    func run() throws {
        let stateDir = address.stateDir(id)
        guard FileSystem.isDirectory(stateDir) else {
            throw CLIError("container \(id) does not exist (no shim state in \(stateDir))")
        }
        guard let state = ShimStateFile.read(stateDir: stateDir), let path = state.logPath else {
            throw CLIError("container \(id) has no k8s-file log (created with another log driver, or not created yet)")
        }
        var printer = LogPrinter(timestamps: timestamps,
                                 since: since.flatMap { Self.sinceNanos($0, now: realtimeNanos()) })
        var reader = LogReader(path: path)
        let existing = reader.readAvailable()
        printer.print(tail.map { LogLines.last($0, of: existing, since: printer.since) } ?? existing)
        guard follow else { return }
        let client = try? address.connect(id)
        defer { client?.close() }
        while true {
            let done: Bool
            if let client {
                let s: Ocishim_V1_StateResponse? = try? client.call("State", Ocishim_V1_StateRequest(), timeoutSeconds: 5)
                done = s.map { $0.status == .stopped || $0.status == .deleted } ?? true
            } else {
                done = true
            }
            printer.print(reader.readAvailable())
            if done { return }
            usleep(100_000)
        }
    }
}
