import ShimProtocol
import SwiftProtobuf

/// containerd's shim v2 task API (`containerd.task.v2.Task`,
/// runtime/v2/task/shim.proto): the ttrpc service a containerd shim serves
/// on the socket whose address its `start` printed.
public enum TaskService {
    public static let name = "containerd.task.v2.Task"

    /// Every rpc of shim.proto, in its order; all unary.
    public static let methods: [ShimMethod] = [
        ShimMethod("State", .unary, Containerd_Task_V2_StateRequest.self, Containerd_Task_V2_StateResponse.self),
        ShimMethod("Create", .unary, Containerd_Task_V2_CreateTaskRequest.self, Containerd_Task_V2_CreateTaskResponse.self),
        ShimMethod("Start", .unary, Containerd_Task_V2_StartRequest.self, Containerd_Task_V2_StartResponse.self),
        ShimMethod("Delete", .unary, Containerd_Task_V2_DeleteRequest.self, Containerd_Task_V2_DeleteResponse.self),
        ShimMethod("Pids", .unary, Containerd_Task_V2_PidsRequest.self, Containerd_Task_V2_PidsResponse.self),
        ShimMethod("Pause", .unary, Containerd_Task_V2_PauseRequest.self, Google_Protobuf_Empty.self),
        ShimMethod("Resume", .unary, Containerd_Task_V2_ResumeRequest.self, Google_Protobuf_Empty.self),
        ShimMethod("Checkpoint", .unary, Containerd_Task_V2_CheckpointTaskRequest.self, Google_Protobuf_Empty.self),
        ShimMethod("Kill", .unary, Containerd_Task_V2_KillRequest.self, Google_Protobuf_Empty.self),
        ShimMethod("Exec", .unary, Containerd_Task_V2_ExecProcessRequest.self, Google_Protobuf_Empty.self),
        ShimMethod("ResizePty", .unary, Containerd_Task_V2_ResizePtyRequest.self, Google_Protobuf_Empty.self),
        ShimMethod("CloseIO", .unary, Containerd_Task_V2_CloseIORequest.self, Google_Protobuf_Empty.self),
        ShimMethod("Update", .unary, Containerd_Task_V2_UpdateTaskRequest.self, Google_Protobuf_Empty.self),
        ShimMethod("Wait", .unary, Containerd_Task_V2_WaitRequest.self, Containerd_Task_V2_WaitResponse.self),
        ShimMethod("Stats", .unary, Containerd_Task_V2_StatsRequest.self, Containerd_Task_V2_StatsResponse.self),
        ShimMethod("Connect", .unary, Containerd_Task_V2_ConnectRequest.self, Containerd_Task_V2_ConnectResponse.self),
        ShimMethod("Shutdown", .unary, Containerd_Task_V2_ShutdownRequest.self, Google_Protobuf_Empty.self),
    ]

    public static let catalog = ServiceCatalog(name: name, methods: methods)
}

/// containerd's event service for shims (`containerd.services.events.ttrpc.v1.Events`,
/// api/services/ttrpc/events/v1/events.proto), served on containerd's
/// TTRPC_ADDRESS: a shim publishes its task events with Forward.
public enum EventsService {
    public static let name = "containerd.services.events.ttrpc.v1.Events"

    public static let methods: [ShimMethod] = [
        ShimMethod("Forward", .unary, Containerd_Services_Events_Ttrpc_V1_ForwardRequest.self, Google_Protobuf_Empty.self),
    ]

    public static let catalog = ServiceCatalog(name: name, methods: methods)
}

/// The type URLs containerd's typeurl package gives the messages a shim
/// sends and receives in `google.protobuf.Any`: a protobuf message's full
/// name (no "type.googleapis.com/" prefix), and for the OCI spec types,
/// which travel as JSON, containerd's own names.
public enum TypeURL {
    public static let runcOptions = "containerd.runc.v1.Options"
    public static let checkpointOptions = "containerd.runc.v1.CheckpointOptions"
    public static let processDetails = "containerd.runc.v1.ProcessDetails"
    public static let cgroupsV1Metrics = "io.containerd.cgroups.v1.Metrics"
    public static let cgroupsV2Metrics = "io.containerd.cgroups.v2.Metrics"
    /// An OCI runtime-spec Process, JSON (Exec's spec).
    public static let ociProcess = "types.containerd.io/opencontainers/runtime-spec/1/Process"
    /// OCI runtime-spec LinuxResources, JSON (Update's resources).
    public static let ociLinuxResources = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

    /// The URL of a protobuf message in an Any, as containerd writes it.
    public static func of<M: SwiftProtobuf.Message>(_ type: M.Type) -> String { M.protoMessageName }

    /// `message` packed as containerd packs it (typeurl.MarshalAny).
    public static func pack<M: SwiftProtobuf.Message>(_ message: M) throws -> Google_Protobuf_Any {
        var any = Google_Protobuf_Any()
        any.typeURL = M.protoMessageName
        let bytes: [UInt8] = try message.serializedBytes()
        any.value = .init(bytes)
        return any
    }
}
