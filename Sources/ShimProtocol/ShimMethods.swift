import SwiftProtobuf

/// How a method uses its stream (ttrpc v1.2 streaming).
public enum MethodKind: Sendable {
    /// One request, one response.
    case unary
    /// One request, then data frames from the server.
    case serverStream
    /// Data frames both ways after the request.
    case bidirectional
}

/// One rpc of `ocishim.v1.Shim`: its name, kind and message types. The server
/// uses it to decode requests, the client and transcripts to decode answers.
///
/// The message types are looked up when asked for, not when the catalogue is
/// built: naming a type as `any Message.Type` makes the Swift runtime
/// instantiate its conformances (Message, Hashable, Equatable...), and doing
/// that for every message of the service cost each shim 15 dirty pages of
/// conformance caches at start-up, for types a shim mostly never sees.
public struct ShimMethod: Sendable {
    public let name: String
    public let kind: MethodKind
    // The autoclosures as given: they capture nothing, so a catalogue of
    // methods allocates no closure contexts (one per method when both were
    // wrapped in a closure of their own).
    private let request: @Sendable () -> any SwiftProtobuf.Message.Type
    private let response: @Sendable () -> any SwiftProtobuf.Message.Type

    public var requestType: any SwiftProtobuf.Message.Type { request() }
    public var responseType: any SwiftProtobuf.Message.Type { response() }

    public init(_ name: String, _ kind: MethodKind = .unary,
         _ request: @autoclosure @escaping @Sendable () -> any SwiftProtobuf.Message.Type,
         _ response: @autoclosure @escaping @Sendable () -> any SwiftProtobuf.Message.Type) {
        self.name = name
        self.kind = kind
        self.request = request
        self.response = response
    }

    /// The ttrpc request flags this method's first frame carries.
    public var requestFlags: FrameFlags {
        switch kind {
        case .unary: []
        case .serverStream: .remoteClosed
        case .bidirectional: .remoteOpen
        }
    }
}

/// A ttrpc service: its name as requests carry it and its rpcs. A server
/// may serve several on one connection (RPCRouter dispatches by name).
public struct ServiceCatalog: Sendable {
    public let name: String
    public let methods: [ShimMethod]

    public init(name: String, methods: [ShimMethod]) {
        self.name = name
        self.methods = methods
    }

    /// A look through a few dozen names, done when handlers are registered
    /// and for errors: no dictionary that every shim would keep for its life.
    public func method(named name: String) -> ShimMethod? { methods.first { $0.name == name } }
}

public enum ShimService {
    /// The ttrpc service name every request carries.
    public static let name = "ocishim.v1.Shim"
    /// `HelloResponse.protocol_version`: bumped on incompatible API changes.
    public static let protocolVersion: UInt32 = 1
    /// `HelloResponse.framing`.
    public static let framing = "ttrpc/1.2"

    /// Every rpc of shim.proto, in its order.
    public static let methods: [ShimMethod] = [
        ShimMethod("Hello", .unary, Ocishim_V1_HelloRequest.self, Ocishim_V1_HelloResponse.self),
        ShimMethod("RuntimeInfo", .unary, Ocishim_V1_RuntimeInfoRequest.self, Ocishim_V1_RuntimeInfoResponse.self),
        ShimMethod("Capabilities", .unary, Ocishim_V1_CapabilitiesRequest.self, Ocishim_V1_CapabilitiesResponse.self),
        ShimMethod("Create", .unary, Ocishim_V1_CreateRequest.self, Ocishim_V1_CreateResponse.self),
        ShimMethod("Start", .unary, Ocishim_V1_StartRequest.self, Ocishim_V1_StartResponse.self),
        ShimMethod("State", .unary, Ocishim_V1_StateRequest.self, Ocishim_V1_StateResponse.self),
        ShimMethod("Kill", .unary, Ocishim_V1_KillRequest.self, Ocishim_V1_KillResponse.self),
        ShimMethod("Stop", .unary, Ocishim_V1_StopRequest.self, Ocishim_V1_StopResponse.self),
        ShimMethod("Delete", .unary, Ocishim_V1_DeleteRequest.self, Ocishim_V1_DeleteResponse.self),
        ShimMethod("Pause", .unary, Ocishim_V1_PauseRequest.self, Ocishim_V1_PauseResponse.self),
        ShimMethod("Resume", .unary, Ocishim_V1_ResumeRequest.self, Ocishim_V1_ResumeResponse.self),
        ShimMethod("Update", .unary, Ocishim_V1_UpdateRequest.self, Ocishim_V1_UpdateResponse.self),
        ShimMethod("Wait", .unary, Ocishim_V1_WaitRequest.self, Ocishim_V1_WaitResponse.self),
        ShimMethod("Events", .serverStream, Ocishim_V1_EventsRequest.self, Ocishim_V1_Event.self),
        ShimMethod("Attach", .bidirectional, Ocishim_V1_AttachInput.self, Ocishim_V1_AttachOutput.self),
        ShimMethod("AttachResize", .unary, Ocishim_V1_ResizeRequest.self, Ocishim_V1_ResizeResponse.self),
        ShimMethod("ReopenLog", .unary, Ocishim_V1_ReopenLogRequest.self, Ocishim_V1_ReopenLogResponse.self),
        ShimMethod("Exec", .unary, Ocishim_V1_ExecRequest.self, Ocishim_V1_ExecResponse.self),
        ShimMethod("ExecResize", .unary, Ocishim_V1_ExecResizeRequest.self, Ocishim_V1_ExecResizeResponse.self),
        ShimMethod("ExecStop", .unary, Ocishim_V1_ExecStopRequest.self, Ocishim_V1_ExecStopResponse.self),
        ShimMethod("ExecState", .unary, Ocishim_V1_ExecStateRequest.self, Ocishim_V1_ExecStateResponse.self),
        ShimMethod("ExecCleanup", .unary, Ocishim_V1_ExecCleanupRequest.self, Ocishim_V1_ExecCleanupResponse.self),
        ShimMethod("ExecSync", .unary, Ocishim_V1_ExecSyncRequest.self, Ocishim_V1_ExecSyncResponse.self),
        ShimMethod("Checkpoint", .unary, Ocishim_V1_CheckpointRequest.self, Ocishim_V1_CheckpointResponse.self),
        ShimMethod("SupportsCheckpoint", .unary, Ocishim_V1_SupportsCheckpointRequest.self, Ocishim_V1_SupportsCheckpointResponse.self),
        ShimMethod("AttachSocketPath", .unary, Ocishim_V1_AttachSocketPathRequest.self, Ocishim_V1_PathResponse.self),
        ShimMethod("ExecAttachSocketPath", .unary, Ocishim_V1_ExecAttachSocketPathRequest.self, Ocishim_V1_PathResponse.self),
        ShimMethod("ExitFilePath", .unary, Ocishim_V1_ExitFilePathRequest.self, Ocishim_V1_PathResponse.self),
        ShimMethod("Shutdown", .unary, Ocishim_V1_ShutdownRequest.self, Ocishim_V1_ShutdownResponse.self),
    ]

    public static let catalog = ServiceCatalog(name: name, methods: methods)

    public static func method(named name: String) -> ShimMethod? { catalog.method(named: name) }
}
