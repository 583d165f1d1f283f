import ArgumentParser
import ShimClient
import ShimProtocol

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a container's events as they happen (after the retained ones).")
    @OptionGroup var address: ShimAddress
    @Option(help: "Only events after this sequence number.") var after: UInt64 = 0
    @Flag(name: .customLong("no-follow"), help: "Print the retained events and stop.") var noFollow = false
    @Argument var id: String

    func run() throws {
        let client = try address.connect(id)
        let stream = try client.openStream("Events", Ocishim_V1_EventsRequest.with {
            $0.afterSeq = after
            $0.noFollow = noFollow
        })
        while let event = try stream.next(Ocishim_V1_Event.self) {
            var line = "\(event.seq) \(EventName.of(event.type)) pid=\(event.pid)"
            if event.type == .exited || event.type == .execExited { line += " exit=\(event.exitCode)" }
            if !event.execID.isEmpty { line += " exec=\(event.execID)" }
            if !event.message.isEmpty { line += " \(event.message)" }
            print(line)
        }
    }
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
