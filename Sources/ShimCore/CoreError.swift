/// A failed core operation. The kinds are the distinctions an engine acts on;
/// the server maps them to status codes, the core knows nothing of frames.
public struct CoreError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The request itself is wrong (bad id, path, signal, option).
        case invalidArgument
        /// Legal request, wrong moment (start twice, pause a stopped container).
        case failedPrecondition
        case notFound
        case alreadyExists
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

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func invalid(_ message: String) -> CoreError { CoreError(.invalidArgument, message) }
    public static func precondition(_ message: String) -> CoreError { CoreError(.failedPrecondition, message) }
    public static func `internal`(_ message: String) -> CoreError { CoreError(.internal, message) }
}
