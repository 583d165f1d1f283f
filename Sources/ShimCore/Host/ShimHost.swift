import Glibc
import ShimSystem

/// What every front end's process needs, set up in one place: SIGPIPE and
/// SIGHUP ignored (an engine that goes away must not end the shim), the
/// event loop, signalfd, the reaper (the shim is the subreaper of its
/// containers), the runtime core, and the idle memory release. `ocishim
/// serve` (ShimServer) and `ocishim-conmon` (ConmonFrontend's Monitor) are
/// translators on top of one host; a new front end adds only its own
/// transport and policy.
public final class ShimHost {
    public let loop: EventLoop
    public let signals: SignalSource
    public let reaper: ChildReaper
    public let scratch = ScratchBuffer()
    public let core: RuntimeCore

    /// Throws the configuration's errors (invalid id, runtime not found, bad
    /// cgroup manager) as they are, and a failed setup of the loop or
    /// signals as `.internal`.
    public init(config: ShimConfig) throws(CoreError) {
        SignalSource.ignore([SIGPIPE, SIGHUP])
        do throws(SystemError) {
            loop = try EventLoop()
            signals = try SignalSource(loop: loop)
            reaper = try ChildReaper(loop: loop, signals: signals)
        } catch {
            throw .internal("cannot set up the shim's event loop and signals: \(error)")
        }
        core = try RuntimeCore(config: config, loop: loop, processes: reaper, scratch: scratch)
        // A quiet shim gives back the memory only busy moments need.
        loop.onIdle = { [unowned self] in core.releaseIdleMemory() }
    }

    /// Calls `handler` with the signal number for each of `signals` (the
    /// front end's termination policy: ShimServer forwards SIGTERM/SIGINT
    /// to the container, conmon also SIGQUIT).
    public func onSignals(_ signals: [Int32], _ handler: @escaping (Int32) -> Void) throws(CoreError) {
        for signal in signals {
            do throws(SystemError) {
                try self.signals.on(signal) { delivery in handler(delivery.signal) }
            } catch {
                throw .internal("cannot handle signal \(signal): \(error)")
            }
        }
    }
}
