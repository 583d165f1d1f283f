import ShimCore
import ShimProtocol

extension RPCError {
    /// The status code an engine sees for a core failure.
    public init(_ error: CoreError) {
        let code: RPCCode = switch error.kind {
        case .invalidArgument: .invalidArgument
        case .failedPrecondition: .failedPrecondition
        case .notFound, .noSuchContainer: .notFound
        case .alreadyExists: .alreadyExists
        case .runtimeFailed: .unknown
        case .deadlineExceeded: .deadlineExceeded
        case .unimplemented: .unimplemented
        case .permissionDenied: .permissionDenied
        case .resourceExhausted: .resourceExhausted
        case .internal: .internal
        case .commandNotFound: .notFound
        case .commandNotExecutable: .permissionDenied
        }
        let reason = switch error.kind {
        case .commandNotFound: RPCReason.commandNotFound
        case .commandNotExecutable: RPCReason.commandNotExecutable
        default: ""
        }
        self.init(code, error.message, reason: reason)
    }
}

extension Result where Failure == CoreError {
    /// The same result with its error as a status.
    public var rpc: Result<Success, RPCError> { mapError { RPCError($0) } }
}
