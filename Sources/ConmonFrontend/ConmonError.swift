import Glibc
import ShimCore

/// Why the monitor cannot go on. Reported as conmon reports its errors: a
/// `[conmon:e]` line on stderr, and (unlike conmon, which only reports
/// runtime failures there) `{"data": -1, "message": ...}` on the sync pipe,
/// so an engine reading the pipe always learns why.
public struct ConmonError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// The command line is wrong.
    static func usage(_ message: String) -> ConmonError { ConmonError(message) }

    /// A core error as the engine should see it: a failed runtime's own
    /// text without the core's classification, which podman adds itself
    /// (getOCIRuntimeError) when it reads the sync pipe.
    public init(core error: CoreError) {
        self.init(error.runtimeMessage ?? error.message)
    }
}

/// conmon's diagnostics format on stderr.
enum ConmonDiagnostics {
    static func printError(_ message: String) {
        let line = "[conmon:e]: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
