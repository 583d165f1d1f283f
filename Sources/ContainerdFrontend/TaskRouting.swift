import ContainerdProtocol
import Glibc
import ShimCore
import ShimProtocol
import ShimServer
import SwiftProtobuf

/// A task request names its container: every one of shim.proto's has `id`.
protocol TaskRequest: SwiftProtobuf.Message {
    var id: String { get }
}

extension Containerd_Task_V2_StateRequest: TaskRequest {}
extension Containerd_Task_V2_StartRequest: TaskRequest {}
extension Containerd_Task_V2_DeleteRequest: TaskRequest {}
extension Containerd_Task_V2_PidsRequest: TaskRequest {}
extension Containerd_Task_V2_PauseRequest: TaskRequest {}
extension Containerd_Task_V2_ResumeRequest: TaskRequest {}
extension Containerd_Task_V2_CheckpointTaskRequest: TaskRequest {}
extension Containerd_Task_V2_KillRequest: TaskRequest {}
extension Containerd_Task_V2_ExecProcessRequest: TaskRequest {}
extension Containerd_Task_V2_ResizePtyRequest: TaskRequest {}
extension Containerd_Task_V2_CloseIORequest: TaskRequest {}
extension Containerd_Task_V2_UpdateTaskRequest: TaskRequest {}
extension Containerd_Task_V2_WaitRequest: TaskRequest {}
extension Containerd_Task_V2_StatsRequest: TaskRequest {}

/// `containerd.task.v2.Task` on the shim's router: each call goes to the
/// container its id names (one, or several grouped into this shim); Create
/// of a container the shim does not hold yet gives it a core of its own on
/// the same host.
extension ContainerdShim {
    func registerTaskService(on router: RPCRouter) {
        route(router, "State") { (task, req: Containerd_Task_V2_StateRequest, reply: Reply<Containerd_Task_V2_StateResponse>) in task.state(req, reply) }
        router.unary("Create", of: TaskService.catalog) { [unowned self] (req: Containerd_Task_V2_CreateTaskRequest, reply: Reply<Containerd_Task_V2_CreateTaskResponse>) in
            do throws(RPCError) { try task(creating: req).create(req, reply) } catch { reply.fail(error) }
        }
        route(router, "Start") { (task, req: Containerd_Task_V2_StartRequest, reply: Reply<Containerd_Task_V2_StartResponse>) in task.start(req, reply) }
        route(router, "Delete") { (task, req: Containerd_Task_V2_DeleteRequest, reply: Reply<Containerd_Task_V2_DeleteResponse>) in task.delete(req, reply) }
        route(router, "Pids") { (task, req: Containerd_Task_V2_PidsRequest, reply: Reply<Containerd_Task_V2_PidsResponse>) in task.pids(req, reply) }
        route(router, "Pause") { (task, req: Containerd_Task_V2_PauseRequest, reply: Reply<Google_Protobuf_Empty>) in task.pause(req, reply) }
        route(router, "Resume") { (task, req: Containerd_Task_V2_ResumeRequest, reply: Reply<Google_Protobuf_Empty>) in task.resume(req, reply) }
        route(router, "Checkpoint") { (task, req: Containerd_Task_V2_CheckpointTaskRequest, reply: Reply<Google_Protobuf_Empty>) in task.checkpoint(req, reply) }
        route(router, "Kill") { (task, req: Containerd_Task_V2_KillRequest, reply: Reply<Google_Protobuf_Empty>) in task.kill(req, reply) }
        route(router, "Exec") { (task, req: Containerd_Task_V2_ExecProcessRequest, reply: Reply<Google_Protobuf_Empty>) in task.exec(req, reply) }
        route(router, "ResizePty") { (task, req: Containerd_Task_V2_ResizePtyRequest, reply: Reply<Google_Protobuf_Empty>) in task.resizePty(req, reply) }
        route(router, "CloseIO") { (task, req: Containerd_Task_V2_CloseIORequest, reply: Reply<Google_Protobuf_Empty>) in task.closeIO(req, reply) }
        route(router, "Update") { (task, req: Containerd_Task_V2_UpdateTaskRequest, reply: Reply<Google_Protobuf_Empty>) in task.update(req, reply) }
        route(router, "Wait") { (task, req: Containerd_Task_V2_WaitRequest, reply: Reply<Containerd_Task_V2_WaitResponse>) in task.wait(req, reply) }
        route(router, "Stats") { (task, req: Containerd_Task_V2_StatsRequest, reply: Reply<Containerd_Task_V2_StatsResponse>) in task.stats(req, reply) }
        router.unary("Connect", of: TaskService.catalog) { [unowned self] (req: Containerd_Task_V2_ConnectRequest, reply: Reply<Containerd_Task_V2_ConnectResponse>) in
            var response = Containerd_Task_V2_ConnectResponse()
            response.shimPid = UInt32(getpid())
            response.taskPid = task(req.id)?.taskPid ?? 0
            reply.ok(response)
        }
        router.unary("Shutdown", of: TaskService.catalog) { [unowned self] (_: Containerd_Task_V2_ShutdownRequest, reply: Reply<Google_Protobuf_Empty>) in
            // As containerd's runc shim: a shim that holds a container goes on.
            reply.ok(Google_Protobuf_Empty())
            if !holdsContainer { exitSoon(reason: "Shutdown") }
        }
    }

    private func route<Request: TaskRequest, Response: SwiftProtobuf.Message>(
        _ router: RPCRouter, _ method: String, _ body: @escaping (TaskHandlers, Request, Reply<Response>) -> Void
    ) {
        router.unary(method, of: TaskService.catalog) { [unowned self] (req: Request, reply: Reply<Response>) in
            // containerd's runc shim: an id it does not hold is "container not created".
            guard let task = task(req.id) else { return reply.fail(RPCError(.notFound, "container not created")) }
            body(task, req, reply)
        }
    }
}

