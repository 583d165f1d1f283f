import SwiftProtobuf

/// An RPC failure: a status code, a message a person can act on, and for the
/// failures an engine acts on by cause, a reason (google.rpc.ErrorInfo in the
/// status details, domain `RPCError.domain`).
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: RPCCode
    public var message: String
    /// Empty, or one of `RPCReason`'s values.
    public var reason: String

    public init(_ code: RPCCode, _ message: String, reason: String = "") {
        self.code = code
        self.message = message
        self.reason = reason
    }

    /// For logs and transcripts; a person reads `message`.
    public var description: String { "\(code.name): \(message)" }

    /// The domain of the shim's reasons.
    public static let domain = "ocishim.v1"

    /// The status carried in a ttrpc Response.
    public var status: Google_Rpc_Status {
        var status = Google_Rpc_Status()
        status.code = code.rawValue
        status.message = message
        if !reason.isEmpty {
            let info = Google_Rpc_ErrorInfo.with {
                $0.reason = reason
                $0.domain = Self.domain
            }
            if let any = try? Google_Protobuf_Any(message: info) { status.details = [any] }
        }
        return status
    }

    /// nil for OK (or an absent status); unknown codes map to UNKNOWN. The
    /// reason is taken from the first ErrorInfo of the shim's domain.
    public init?(status: Google_Rpc_Status) {
        guard status.code != 0 else { return nil }
        let info = status.details.lazy
            .filter { $0.isA(Google_Rpc_ErrorInfo.self) }
            .compactMap { try? Google_Rpc_ErrorInfo(unpackingAny: $0) }
            .first { $0.domain == Self.domain }
        self.init(RPCCode(rawValue: status.code) ?? .unknown, status.message, reason: info?.reason ?? "")
    }
}

/// The reasons the shim gives (ErrorInfo.reason), for failures whose code
/// alone does not tell an engine what to do.
public enum RPCReason {
    /// The runtime could not find the process's executable (runc: `exec:
    /// "X": executable file not found in $PATH`, `stat X: no such file or
    /// directory`). podman exits 127 for it, as a shell does.
    public static let commandNotFound = "COMMAND_NOT_FOUND"
    /// The executable exists but cannot be run (runc: `exec: "X":
    /// permission denied`). podman exits 126 for it, as a shell does.
    public static let commandNotExecutable = "COMMAND_NOT_EXECUTABLE"
}
