/// The shim's events: numbered, retained, and delivered to every subscriber.
///
/// Retention is what lets an engine that was away catch up: a subscriber
/// names the last seq it has seen and gets everything after it first. The
/// container's lifecycle events (created ... exited, oom, deleted) are few
/// and always kept; the bound only drops the oldest of the kinds that can
/// repeat without end (exec sessions, log errors).
public final class EventLog {
    public typealias Subscriber = (ContainerEvent) -> Void

    public private(set) var retained: [ContainerEvent] = []
    public private(set) var lastSeq: UInt64 = 0
    private var subscribers: [Int: Subscriber] = [:]
    private var nextSubscriberID = 0
    private let retainLimit: Int
    /// Persists the log when it changes (wired to the state store).
    var onChange: (() -> Void)?

    public init(retainLimit: Int = 1024) {
        self.retainLimit = retainLimit
    }

    /// Records and broadcasts an event; fills in its seq.
    @discardableResult
    func emit(_ kind: ContainerEvent.Kind, containerID: String, timestamp: Int64, _ fill: (inout ContainerEvent) -> Void = { _ in }) -> ContainerEvent {
        lastSeq += 1
        var event = ContainerEvent(seq: lastSeq, kind: kind, timestamp: timestamp, containerID: containerID)
        fill(&event)
        retained.append(event)
        trim()
        onChange?()
        for subscriber in subscribers.values { subscriber(event) }
        return event
    }

    /// Kinds that happen a bounded number of times per container.
    static let lifecycle: Set<ContainerEvent.Kind> = [.created, .started, .paused, .resumed, .exited, .oom,
                                                      .deleted, .checkpointed, .restored]

    private func trim() {
        while retained.count > retainLimit {
            // pause/resume can repeat too, but each pair is an engine's own
            // doing; the unbounded kinds go first.
            if let i = retained.firstIndex(where: { !Self.lifecycle.contains($0.kind) }) {
                retained.remove(at: i)
            } else {
                retained.removeFirst()
            }
        }
    }

    /// Events after `seq`, oldest first.
    public func events(after seq: UInt64) -> [ContainerEvent] {
        retained.filter { $0.seq > seq }
    }

    /// Live events from now on; returns a token for `unsubscribe`.
    public func subscribe(_ subscriber: @escaping Subscriber) -> Int {
        nextSubscriberID += 1
        subscribers[nextSubscriberID] = subscriber
        return nextSubscriberID
    }

    public func unsubscribe(_ token: Int) {
        subscribers[token] = nil
    }

    public var subscriberCount: Int { subscribers.count }
}
