/// An RPC failure: a status code and a message a person can act on.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: RPCCode
    public var message: String

    public init(_ code: RPCCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }

    /// The status carried in a ttrpc Response.
    public var status: Google_Rpc_Status {
        var status = Google_Rpc_Status()
        status.code = code.rawValue
        status.message = message
        return status
    }

    /// nil for OK (or an absent status); unknown codes map to UNKNOWN.
    public init?(status: Google_Rpc_Status) {
        guard status.code != 0 else { return nil }
        self.init(RPCCode(rawValue: status.code) ?? .unknown, status.message)
    }
}
