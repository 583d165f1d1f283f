import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// Where a container's shim lives: <state-root>/<id>, as runc keeps
/// <root>/<id>. Every command that names an existing container reaches its
/// shim through <state-root>/<id>/shim.sock.
struct ShimAddress: ParsableArguments {
    @Option(name: .customLong("state-root"), help: "Directory holding one state directory per shim.")
    var stateRoot = "/run/ocishim"

    func stateDir(_ id: String) -> String { FileSystem.join(FileSystem.absolute(stateRoot), id) }

    /// A client connected to the running shim of `id`.
    func connect(_ id: String) throws -> ShimClient {
        let dir = stateDir(id)
        guard FileSystem.isDirectory(dir) else {
            throw CLIError("container \(id) does not exist (no shim state in \(dir))")
        }
        do {
            return try ShimClient.connect(stateDir: dir)
        } catch {
            throw CLIError("cannot reach the shim of \(id) at \(dir)/shim.sock: \(error)")
        }
    }
}

/// A failure reported as "ocictl: <message>" with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
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
