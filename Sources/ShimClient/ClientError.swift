import ShimProtocol
import ShimSystem

/// Why a client call did not produce an answer.
public enum ClientError: Error, CustomStringConvertible {
    /// The shim answered with an error status.
    case rpc(RPCError)
    /// The shim closed the connection.
    case closed
    /// No answer within the time allowed.
    case timedOut(String)
    /// A system call failed.
    case system(SystemError)
    /// The shim could not be started.
    case spawn(String)
    /// The peer broke the framing or sent an undecodable answer.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .rpc(let e): "\(e.code.name): \(e.message)"
        case .closed: "the shim closed the connection"
        case .timedOut(let what): "timed out waiting for \(what)"
        case .system(let e): "\(e)"
        case .spawn(let why): "cannot start the shim: \(why)"
        case .protocolViolation(let why): "protocol violation: \(why)"
        }
    }

    /// The status code when the shim answered with one.
    public var rpcCode: RPCCode? {
        if case .rpc(let e) = self { return e.code }
        return nil
    }
}
