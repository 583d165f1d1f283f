import Glibc

/// The signal that asked the bench to stop (0: none). Written by the handler
/// only, which may do nothing else.
nonisolated(unsafe) private var stopSignal: sig_atomic_t = 0

/// SIGINT, SIGTERM and SIGHUP stop the bench between two steps instead of
/// killing it: the step in progress ends, and the `defer`s on the way out
/// remove every container and monitor it started (the scale section has a
/// thousand of them). Scripts/bench then sweeps whatever is left (Sweep).
/// Spawned programs get the default dispositions back (Spawner).
enum Interrupt {
    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in stopSignal = signal }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaction(signal, &action, nil) }
    }

    static var requested: Bool { stopSignal != 0 }

    /// Throws once a stop was asked for; long loops call it every step.
    static func check() throws {
        if stopSignal != 0 { throw Interrupted(signal: stopSignal) }
    }
}

struct Interrupted: Error, CustomStringConvertible {
    let signal: Int32
    var description: String { "interrupted by signal \(signal); everything the bench started was removed" }
}
