/// The shim's events: numbered, retained, and delivered to every subscriber.
///
/// Retention is what lets an engine that was away catch up: a subscriber
/// names the last seq it has seen and gets everything after it first. The
/// lifecycle events that matter (exited, oom) are few per container; the
/// bound only protects against an endless stream of exec or log events.
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

    /// Restores events saved by a previous run of the shim.
    func restore(_ events: [ContainerEvent]) {
        retained = Array(events.suffix(retainLimit))
        lastSeq = max(lastSeq, retained.last?.seq ?? 0)
    }

    /// Records and broadcasts an event; fills in its seq.
    @discardableResult
    func emit(_ kind: ContainerEvent.Kind, containerID: String, timestamp: Int64, _ fill: (inout ContainerEvent) -> Void = { _ in }) -> ContainerEvent {
        lastSeq += 1
        var event = ContainerEvent(seq: lastSeq, kind: kind, timestamp: timestamp, containerID: containerID)
        fill(&event)
        retained.append(event)
        if retained.count > retainLimit { retained.removeFirst(retained.count - retainLimit) }
        onChange?()
        for subscriber in subscribers.values { subscriber(event) }
        return event
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
