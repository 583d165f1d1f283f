import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a container's events as they happen (after the retained ones).",
        discussion: """
            One line per event, written as it arrives. --format json prints each as one JSON \
            object per line: seq, type, time (RFC 3339), id, execId, pid, exitCode (null unless \
            the event is an exit), message.
            """)
    @OptionGroup var address: ShimAddress
    @OptionGroup var format: FormatOption
    @Option(help: "Only events after this sequence number.") var after: UInt64 = 0
    @Flag(name: .customLong("no-follow"), help: "Print the retained events and stop.") var noFollow = false
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let client = try address.connect(id)
        let stream = try client.openStream("Events", Ocishim_V1_EventsRequest.with {
            $0.afterSeq = after
            $0.noFollow = noFollow
        })
        while let event = try stream.next(Ocishim_V1_Event.self) {
            print(format.isJSON ? Self.json(event).serialized : Self.text(event))
            // Each line out as it comes: `ocictl events > file` keeps every
            // line printed even when ocictl is killed.
            fflush(nil)
        }
    }

    static func text(_ event: Ocishim_V1_Event) -> String {
        var line = "\(event.seq) \(EventName.of(event.type)) pid=\(event.pid)"
        if isExit(event) { line += " exit=\(event.exitCode)" }
        if !event.execID.isEmpty { line += " exec=\(event.execID)" }
        if !event.message.isEmpty { line += " \(event.message)" }
        return line
    }

    static func json(_ event: Ocishim_V1_Event) -> JSONValue {
        .object([
            ("seq", .int(Int64(clamping: event.seq))), ("type", .string(EventName.of(event.type))),
            ("time", .string(TimeText.rfc3339(nanos: event.timestamp))), ("id", .string(event.containerID)),
            ("execId", .string(event.execID)), ("pid", .int(Int64(event.pid))),
            ("exitCode", isExit(event) ? .int(Int64(event.exitCode)) : .null), ("message", .string(event.message)),
        ])
    }

    private static func isExit(_ event: Ocishim_V1_Event) -> Bool { event.type == .exited || event.type == .execExited }
}

enum EventName {
    static func of(_ type: Ocishim_V1_EventType) -> String {
        switch type {
        case .created: "created"
        case .started: "started"
        case .paused: "paused"
        case .resumed: "resumed"
        case .exited: "exited"
        case .oom: "oom"
        case .deleted: "deleted"
        case .execStarted: "exec-started"
        case .execExited: "exec-exited"
        case .checkpointed: "checkpointed"
        case .restored: "restored"
        case .logError: "log-error"
        case .logResumed: "log-resumed"
        default: "unknown"
        }
    }
}
