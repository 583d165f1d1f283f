/// A failed core operation. The kinds are the distinctions an engine acts on;
/// the server maps them to status codes, the core knows nothing of frames.
public struct CoreError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The request itself is wrong (bad id, path, signal, option).
        case invalidArgument
        /// Legal request, wrong moment (start twice, pause a stopped container).
        case failedPrecondition
        case notFound
        /// The runtime does not know the container ("container does not
        /// exist"): gone, or never created under that id.
        case noSuchContainer
        case alreadyExists
        /// The runtime could not find the executable of the process it was
        /// to start (create, exec): a shell's 127.
        case commandNotFound
        /// The process's executable exists but cannot be run (not
        /// executable, no permission): a shell's 126.
        case commandNotExecutable
        /// The OCI runtime failed; the message is its own error text.
        case runtimeFailed
        /// A runtime invocation or wait exceeded its deadline.
        case deadlineExceeded
        /// Not built (yet) or not possible here.
        case unimplemented
        case permissionDenied
        case resourceExhausted
        /// Everything else: a syscall failed where it should not.
        case `internal`
    }

    public var kind: Kind
    public var message: String
    /// A failed runtime's own text, without the classification `message`
    /// adds (podman adds its own when it reads conmon's pipe).
    public var runtimeMessage: String?
    /// A failed runtime's stderr as it wrote it (at most `runtimeOutputLimit`
    /// bytes of it), when it was not the shim's to log: what conmon reads
    /// from the runtime's stderr and hands the engine verbatim.
    public var runtimeOutput: [UInt8]?
    /// The failed runtime invocation's exit code (128 + signal when killed;
    /// 127 when it could not be run at all, as a shell reports it).
    public var runtimeStatus: Int32?

    /// conmon reads the runtime's stderr once into an 8 KiB buffer.
    public static let runtimeOutputLimit = 8191

    public init(_ kind: Kind, _ message: String, runtimeMessage: String? = nil) {
        self.kind = kind
        self.message = message
        self.runtimeMessage = runtimeMessage
    }

    public var description: String { message }

    public static func invalid(_ message: String) -> CoreError { CoreError(.invalidArgument, message) }
    public static func precondition(_ message: String) -> CoreError { CoreError(.failedPrecondition, message) }
    public static func `internal`(_ message: String) -> CoreError { CoreError(.internal, message) }
}
