import Foundation

/// Several engines at once, each a thread of its own: an engine blocks on
/// the monitor's answers and on the runtime, as a real one does, so the
/// bursts need threads, not a pool sized to the cores.
enum Parallel {
    /// Runs `body(0) … body(count - 1)` on `count` threads; returns when all
    /// have returned.
    static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.start()
        }
        group.wait()
    }
}

/// Values appended from several threads.
final class Collected<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Value] = []

    func append(_ value: Value) {
        lock.lock()
        items.append(value)
        lock.unlock()
    }

    var values: [Value] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// Hands objects that are used by one thread at a time (a container and its
/// client) across threads.
struct Handed<Value>: @unchecked Sendable {
    let value: Value
}
