import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// Where a container's shim lives: <root>/<id>, as runc keeps
/// <root>/<id>. Every command that names an existing container reaches its
/// shim through <root>/<id>/shim.sock; state, kill and rm also work once the
/// shim is gone (OrphanedContainer).
struct ShimAddress: ParsableArguments {
    @Option(name: [.customLong("root"), .customLong("state-root")],
            help: ArgumentHelp("Directory holding one state directory per shim (default: the global --root, "
                               + "$\(GlobalOptions.rootVariable), \(GlobalOptions.defaultRoot)).", valueName: "dir"))
    var rootOption: String?

    var stateRoot: String { GlobalOptions.stateRoot(commandOption: rootOption) }

    func stateDir(_ id: String) -> String { FileSystem.join(FileSystem.absolute(stateRoot), id) }

    /// A client connected to the running shim of `id`; a shim that is gone
    /// is an error that says what still works.
    func connect(_ id: String) throws -> ShimClient {
        switch try reach(id) {
        case .live(let client):
            return client
        case .gone:
            throw CLIError("the shim of \(id) is gone (nothing answers at \(stateDir(id))/shim.sock): "
                           + "`ocictl state \(id)` shows what the runtime knows, `ocictl kill` signals and "
                           + "`ocictl rm [--force] \(id)` removes it through the runtime")
        }
    }

    /// The shim of `id` if it answers, else the container as its state dir
    /// and the runtime know it. A shim that holds the state dir but does not
    /// answer yet (starting, or exiting) is waited for, a few seconds.
    func reach(_ id: String) throws -> ShimReach {
        let dir = stateDir(id)
        guard FileSystem.isDirectory(dir) else {
            throw CLIError("container \(id) does not exist (no shim state in \(dir))")
        }
        let deadline = Clock.monotonicNanos() + 5_000_000_000
        while true {
            do {
                return .live(try ShimClient.connect(stateDir: dir))
            } catch {
                if !StateDirLock.isHeld(stateDir: dir) { return .gone(OrphanedContainer(id: id, stateDir: dir)) }
                guard Clock.monotonicNanos() < deadline else {
                    throw CLIError("cannot reach the shim of \(id) at \(dir)/shim.sock: \(error) (a shim holds \(dir) but does not answer)")
                }
            }
            usleep(50_000)
        }
    }
}

/// How ocictl reaches a container: through its shim, or, once the shim is
/// gone, through the runtime it recorded.
enum ShimReach {
    case live(ShimClient)
    case gone(OrphanedContainer)
}

/// Signal names and numbers as runc and kill(1) accept them.
enum SignalName {
    static let table: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
        "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2,
        "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD,
        "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG,
        "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH,
        "IO": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    static func parse(_ text: String) throws -> UInt32 {
        if let n = UInt32(text), (1...64).contains(n) { return n }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        guard let n = table[name] else { throw CLIError("unknown signal \"\(text)\"") }
        return UInt32(n)
    }
}

/// After Delete the shim exits and removes its state dir; wait for that (at
/// most 5 s) so a following `ocictl create` of the same id starts clean.
func waitForRemoval(_ stateDir: String) {
    for _ in 0..<100 where FileSystem.exists(stateDir) { usleep(50_000) }
}
