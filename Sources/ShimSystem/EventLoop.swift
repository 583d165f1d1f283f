import CShimSys
import Glibc
import SystemPackage

/// The shim's one event loop: epoll for fds, a deadline list for timers, and a
/// queue of work deferred to the next turn. Single-threaded by design; nothing
/// here is safe to call from another thread.
public final class EventLoop {
    public struct Interest: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Interest(rawValue: EPOLLIN.rawValue)
        public static let writable = Interest(rawValue: EPOLLOUT.rawValue)
    }

    /// What epoll reported for an fd.
    public struct Readiness: Sendable {
        public let rawValue: UInt32
        public var readable: Bool { rawValue & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
        public var writable: Bool { rawValue & (EPOLLOUT.rawValue | EPOLLERR.rawValue) != 0 }
        /// The peer hung up or the fd is in error: reads will return EOF or fail.
        public var hangup: Bool { rawValue & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
    }

    public struct TimerToken: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private struct Watch {
        let generation: UInt32
        let handler: (Readiness) -> Void
    }

    private struct Timer {
        let deadline: Int64
        let id: UInt64
        let body: () -> Void
    }

    private let epfd: Int32
    private var watches: [Int32: Watch] = [:]
    private var generation: UInt32 = 0
    /// Sorted by deadline, soonest last (cheap removal from the end).
    private var timers: [Timer] = []
    private var nextTimerID: UInt64 = 0
    private var deferred: [() -> Void] = []
    private var stopped = false
    private var idleReported = false
    /// When the last quiet spell was reported (CLOCK_MONOTONIC: the idle
    /// delay is epoll's real time, whatever clock the timers use).
    private var idleReportedAt: Int64 = 0
    /// The idle delay in use: `idleDelayMillis` times this.
    private var idleDelayFactor: Int32 = 1
    /// At most 8 times the base delay: an engine that polls once a second
    /// keeps its shims from releasing, one that stops lets them release
    /// within seconds.
    private static let maxIdleDelayFactor: Int32 = 8

    /// Called once the loop has waited `idleDelayMillis` with nothing to do
    /// (no fd event, timer or deferred work), and again only after new
    /// activity: where a quiet shim gives back memory it does not need. A
    /// shim that stays idle is woken once, then sleeps in epoll_wait.
    ///
    /// Woken again within one delay of such a report, the loop doubles the
    /// delay (up to 8 times `idleDelayMillis`): wake-ups about as often as
    /// the delay (an engine polling State every second) would otherwise find
    /// the memory just given back and fault it in on every call. Woken after
    /// a longer quiet, it is back to `idleDelayMillis`.
    public var onIdle: (() -> Void)?
    public var idleDelayMillis: Int32 = 1000

    /// The delay before the next quiet spell is reported.
    private var idleDelay: Int32 {
        let (product, overflow) = idleDelayMillis.multipliedReportingOverflow(by: idleDelayFactor)
        return overflow ? .max : product
    }

    /// The loop's time, CLOCK_MONOTONIC nanoseconds; tests give a clock they
    /// advance by hand (`ManualClock`), so that timers fire without sleeping.
    private let now: () -> Int64

    public init(clock: @escaping () -> Int64 = Clock.monotonicNanos) throws(SystemError) {
        epfd = try sysCall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        now = clock
    }

    deinit { close(epfd) }

    /// Number of fds being watched (for leak checks in tests and stats).
    public var watchedCount: Int { watches.count }

    /// Calls `handler` whenever `fd` is ready for `interest`. Level-triggered:
    /// a handler that does not drain its fd is called again next turn. Fails
    /// with EPERM for fds epoll cannot watch (regular files, /dev/null).
    ///
    /// `readHangup: false` leaves out EPOLLRDHUP: for a socket whose peer has
    /// half-closed, which would otherwise report ready on every turn. EPOLLHUP
    /// and EPOLLERR are always reported, even with an empty `interest`.
    public func watch(_ descriptor: FileDescriptor, _ interest: Interest, readHangup: Bool = true,
                      handler: @escaping (Readiness) -> Void) throws(SystemError) {
        let fd = descriptor.rawValue
        generation &+= 1
        let data = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
        let op = watches[fd] == nil ? EPOLL_CTL_ADD : EPOLL_CTL_MOD
        let events = interest.rawValue | (readHangup ? EPOLLRDHUP.rawValue : 0)
        try sysCall("epoll_ctl fd \(fd)") { ocishim_epoll_ctl(epfd, op, fd, events, data) }
        watches[fd] = Watch(generation: generation, handler: handler)
    }

    /// Changes what an already watched fd is watched for.
    public func change(_ descriptor: FileDescriptor, _ interest: Interest) {
        let fd = descriptor.rawValue
        guard let w = watches[fd] else { return }
        let data = UInt64(w.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        _ = ocishim_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, interest.rawValue | EPOLLRDHUP.rawValue, data)
    }

    /// Stops watching `fd`. Call before closing it: a closed fd leaves epoll on
    /// its own only when no duplicate of it exists (for example in a child).
    public func unwatch(_ descriptor: FileDescriptor) {
        guard watches.removeValue(forKey: descriptor.rawValue) != nil else { return }
        _ = ocishim_epoll_ctl(epfd, EPOLL_CTL_DEL, descriptor.rawValue, 0, 0)
    }

    public func isWatching(_ descriptor: FileDescriptor) -> Bool { watches[descriptor.rawValue] != nil }

    /// Runs `body` once after `nanoseconds` (monotonic clock). Delays come
    /// from clients (a request's timeout, a stop timeout): a deadline past
    /// the clock's end saturates at "never" instead of overflowing.
    @discardableResult
    public func schedule(afterNanos nanoseconds: Int64, _ body: @escaping () -> Void) -> TimerToken {
        nextTimerID += 1
        let (sum, overflow) = now().addingReportingOverflow(max(0, nanoseconds))
        let timer = Timer(deadline: overflow ? Int64.max : sum, id: nextTimerID, body: body)
        let index = timers.firstIndex { $0.deadline < timer.deadline } ?? timers.endIndex
        timers.insert(timer, at: index)
        return TimerToken(id: timer.id)
    }

    @discardableResult
    public func schedule(afterSeconds seconds: Double, _ body: @escaping () -> Void) -> TimerToken {
        schedule(afterNanos: Clock.nanos(fromSeconds: seconds), body)
    }

    /// Removes the timer at once (a shim has a handful), which also frees
    /// what its body holds; a timer that has fired is no longer listed.
    public func cancel(_ token: TimerToken) {
        if let index = timers.firstIndex(where: { $0.id == token.id }) { timers.remove(at: index) }
    }

    /// Runs `body` at the start of the next turn, before waiting for fds.
    public func soon(_ body: @escaping () -> Void) {
        deferred.append(body)
    }

    /// Turns until `stop()`.
    public func run() {
        stopped = false
        while !stopped { turn(maxWaitMillis: -1) }
    }

    /// Turns until `condition` holds or `timeoutNanos` passes; for tests and
    /// for clients that block on one answer. Returns whether it holds.
    @discardableResult
    public func run(until condition: () -> Bool, timeoutNanos: Int64) -> Bool {
        let (sum, overflow) = now().addingReportingOverflow(max(0, timeoutNanos))
        let deadline = overflow ? Int64.max : sum
        stopped = false
        while !condition() {
            let left = deadline - now()
            if left <= 0 || stopped { return condition() }
            turn(maxWaitMillis: Int32(min(left / 1_000_000 + 1, 1000)), unlessDone: condition)
        }
        return true
    }

    public func stop() { stopped = true }

    /// One iteration: deferred work, due timers, then ready fds. Does not
    /// wait for fds when `unlessDone` already holds after the deferred work.
    public func turn(maxWaitMillis: Int32) {
        turn(maxWaitMillis: maxWaitMillis, unlessDone: { false })
    }

    /// One iteration that does not wait for fds if `unlessDone` holds once
    /// the deferred work has run (work done there may be what ends a caller's
    /// loop).
    public func turn(maxWaitMillis: Int32, unlessDone: () -> Bool) {
        var active = runDeferred()
        active = runDueTimers() || active
        var wait = maxWaitMillis
        if !deferred.isEmpty || stopped || unlessDone() {
            wait = 0
        } else if let next = timers.last {
            let left = max(0, next.deadline - now())
            let ms = left / 1_000_000 + (left % 1_000_000 == 0 ? 0 : 1)
            let timerWait = Int32(clamping: ms)
            wait = wait < 0 ? timerWait : min(wait, timerWait)
        }
        // Not reported idle yet: wait no longer than the idle delay, so that
        // a timeout with nothing to do means the loop has gone quiet.
        let delay = idleDelay
        let watchingForIdle = onIdle != nil && !idleReported && (wait < 0 || wait > delay)
        if watchingForIdle { wait = delay }
        // On the stack: no allocation per turn (this is the log's hot path).
        let n = withUnsafeTemporaryAllocation(of: ocishim_epoll_event.self, capacity: 32) { events -> Int32 in
            let n = ocishim_epoll_wait(epfd, events.baseAddress!, Int32(events.count), wait)
            for event in events.prefix(max(0, Int(n))) {
                let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: event.data))
                let gen = UInt32(truncatingIfNeeded: event.data >> 32)
                // A handler earlier in this batch may have closed the fd, or
                // closed it and registered a new one under the same number.
                guard let w = watches[fd], w.generation == gen else { continue }
                w.handler(Readiness(rawValue: event.events))
            }
            return n
        }
        if n > 0 { active = true }
        active = runDueTimers() || active
        if active {
            if idleReported { adaptIdleDelay(quietNanos: Clock.monotonicNanos() - idleReportedAt) }
            idleReported = false
        } else if watchingForIdle && n == 0 {
            idleReported = true
            idleReportedAt = Clock.monotonicNanos()
            onIdle?()
        }
    }

    /// The first activity after a reported quiet spell, `quietNanos` after
    /// the report: a wake within one delay doubles it, a later one resets it.
    private func adaptIdleDelay(quietNanos: Int64) {
        if quietNanos < Int64(idleDelay) * 1_000_000 {
            idleDelayFactor = min(idleDelayFactor * 2, Self.maxIdleDelayFactor)
        } else {
            idleDelayFactor = 1
        }
    }

    /// Runs the deferred work; returns whether there was any.
    @discardableResult
    private func runDeferred() -> Bool {
        var ran = false
        while !deferred.isEmpty {
            let work = deferred
            deferred = []
            for body in work { body() }
            ran = true
        }
        return ran
    }

    /// Runs the due timers; returns whether any fired.
    @discardableResult
    private func runDueTimers() -> Bool {
        var fired = false
        let time = now()
        while let next = timers.last, next.deadline <= time {
            timers.removeLast()
            next.body()
            fired = true
        }
        return fired
    }
}
