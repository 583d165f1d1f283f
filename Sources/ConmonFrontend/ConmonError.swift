import Glibc
import ShimCore

/// A message for the engine or the user (the command line's errors, a
/// runtime's failure, a monitor that cannot go on).
public struct ConmonError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// A core error as the engine should see it: a failed runtime's own
    /// text without the core's classification, which podman adds itself
    /// (getOCIRuntimeError) when it reads the sync pipe.
    public init(core error: CoreError) {
        self.init(error.runtimeMessage ?? error.message)
    }
}

/// One of conmon's fatal checks, with the macro it exits through (which
/// decides the words on stderr and in syslog: ConmonLog) and the errno a
/// `p` form appends.
public struct ConmonFailure: Error, Equatable, CustomStringConvertible {
    public enum Form: Sendable, Equatable { case nexit, nexitf, pexit, pexitf }

    public let form: Form
    public let message: String
    public let errno: Int32

    public init(_ form: Form, _ message: String, errno: Int32 = 0) {
        self.form = form
        self.message = message
        self.errno = errno
    }

    static func nexit(_ message: String) -> ConmonFailure { ConmonFailure(.nexit, message) }
    static func nexitf(_ message: String) -> ConmonFailure { ConmonFailure(.nexitf, message) }
    static func pexit(_ message: String, errno: Int32 = Glibc.errno) -> ConmonFailure { ConmonFailure(.pexit, message, errno: errno) }
    static func pexitf(_ message: String, errno: Int32 = Glibc.errno) -> ConmonFailure { ConmonFailure(.pexitf, message, errno: errno) }

    /// The stderr line conmon prints for it.
    public var description: String {
        switch form {
        case .nexit: "[conmon:e] \(message)"
        case .nexitf: "[conmon:e]: \(message)"
        case .pexit, .pexitf: "[conmon:e]: \(message) \(ConmonLog.strerror(errno))"
        }
    }

    /// Prints it as conmon does and exits 1.
    func exit() -> Never {
        switch form {
        case .nexit: ConmonLog.nexit(message)
        case .nexitf: ConmonLog.nexitf(message)
        case .pexit: ConmonLog.pexit(message, errno: errno)
        case .pexitf: ConmonLog.pexitf(message, errno: errno)
        }
    }
}
