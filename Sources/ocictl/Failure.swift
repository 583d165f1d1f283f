import ShimClient
import ShimProtocol

/// A failure as a person reads it: one message, without gRPC code names,
/// and the exit status, podman's where podman has one (127: the command to
/// run was not found, 126: it could not be run), else 1.
struct Failure {
    let message: String
    let exitCode: Int32

    init(_ error: Error) {
        switch error {
        case let error as CLIError:
            message = error.description
            exitCode = error.exitCode
        case let error as ClientError:
            message = Self.message(error)
            exitCode = Self.exitCode(error)
        default:
            message = "\(error)"
            exitCode = 1
        }
    }

    /// The shim's message for an error status; the client's words otherwise.
    static func message(_ error: ClientError) -> String {
        if case .rpc(let rpc) = error { return rpc.message }
        return error.description
    }

    static func exitCode(_ error: ClientError) -> Int32 {
        guard case .rpc(let rpc) = error else { return 1 }
        switch rpc.reason {
        case RPCReason.commandNotFound: return 127
        case RPCReason.commandNotExecutable: return 126
        default: return 1
        }
    }
}

/// A failure reported as "ocictl: <message>", exit status 1 unless given.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32

    init(_ message: String, exitCode: Int32 = 1) {
        description = message
        self.exitCode = exitCode
    }

    /// `error` with what was being done in front: "exec in c1: <message>",
    /// keeping its exit status.
    init(_ context: String, _ error: Error) {
        let failure = Failure(error)
        self.init("\(context): \(failure.message)", exitCode: failure.exitCode)
    }
}
