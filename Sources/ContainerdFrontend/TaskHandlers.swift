import ContainerdProtocol
import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimServer
import ShimSystem
import SwiftProtobuf

/// `containerd.task.v2.Task` for one container on its core: each call
/// translated to RuntimeCore's process-addressed calls (an empty exec id is
/// the init, as in containerd's runc shim, runtime/v2/runc/task/service.go),
/// answers shaped as that shim shapes them. ContainerdShim routes each call
/// to the container it names (TaskRouting).
final class TaskHandlers {
    typealias Empty = Google_Protobuf_Empty

    let core: RuntimeCore
    let namespace: String
    let bundlePaths: ShimPaths
    let log: Logger
    unowned let shim: ContainerdShim
    /// What Create was given: State answers with its stdio, TaskCreate
    /// carries it.
    var created: Containerd_Task_V2_CreateTaskRequest?
    var execStdio: [String: TaskStdio] = [:]
    /// `<bundle>/rootfs` when this shim mounted the rootfs there.
    var mountedRootfs: String?
    var cgroup: ContainerCgroup?
    /// The runtime options' IoUid/IoGid: the owner of the stdio pipes of
    /// the init and of every exec.
    var stdioOwner: StdioOwner?
    /// The logging binaries of `binary://` stdio, stopped at Delete.
    var initLogger: BinaryLogger?
    var execLoggers: [String: BinaryLogger] = [:]

    init(core: RuntimeCore, namespace: String, paths: ShimPaths, shim: ContainerdShim, log: Logger) {
        self.core = core
        self.namespace = namespace
        self.bundlePaths = paths
        self.shim = shim
        self.log = log
    }

    var containerID: String { core.containerID }

    // --- calls that need nothing but the core ------------------------------------------

    func state(_ req: Containerd_Task_V2_StateRequest, _ reply: Reply<Containerd_Task_V2_StateResponse>) {
        do throws(RPCError) { reply.ok(try state(req)) } catch { reply.fail(error) }
    }

    func pause(_ req: Containerd_Task_V2_PauseRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        core.pause { reply($0.mapError { Self.runtimeError($0, "pause") }.map { Empty() }) }
    }

    func resume(_ req: Containerd_Task_V2_ResumeRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        core.resume { reply($0.mapError { Self.runtimeError($0, "resume") }.map { Empty() }) }
    }

    func resizePty(_ req: Containerd_Task_V2_ResizePtyRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        do throws(CoreError) {
            try core.resize(execID: Self.execID(req.execID), rows: UInt16(clamping: req.height), columns: UInt16(clamping: req.width))
            reply.ok(Empty())
        } catch {
            reply.fail(RPCError(error))
        }
    }

    func closeIO(_ req: Containerd_Task_V2_CloseIORequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        guard req.stdin else { return reply.ok(Empty()) }
        do throws(CoreError) {
            try core.closeStdin(execID: Self.execID(req.execID))
            reply.ok(Empty())
        } catch {
            reply.fail(RPCError(error))
        }
    }

    func update(_ req: Containerd_Task_V2_UpdateTaskRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        guard req.resources.typeURL == TypeURL.ociLinuxResources else {
            return reply.fail(RPCError(.invalidArgument, "unsupported resources type \(req.resources.typeURL) (want \(TypeURL.ociLinuxResources))"))
        }
        core.update(resourcesJSON: String(decoding: [UInt8](req.resources.value), as: UTF8.self)) { reply($0.rpc.map { Empty() }) }
    }

    func wait(_ req: Containerd_Task_V2_WaitRequest, _ reply: Reply<Containerd_Task_V2_WaitResponse>) {
        guard checkContainer(req.id, reply) else { return }
        let cancel = core.wait(execID: Self.execID(req.execID)) { result in
            reply(result.rpc.map { exit in
                var response = Containerd_Task_V2_WaitResponse()
                response.exitStatus = Self.exitStatus(exit.exitCode)
                response.exitedAt = Timestamps.from(nanos: exit.finishedAt)
                return response
            })
        }
        reply.call.onCancel = cancel
    }

    func stats(_ req: Containerd_Task_V2_StatsRequest, _ reply: Reply<Containerd_Task_V2_StatsResponse>) {
        guard checkContainer(req.id, reply) else { return }
        guard let cgroup else { return reply.fail(RPCError(.notFound, "cgroup does not exist")) }
        do {
            var response = Containerd_Task_V2_StatsResponse()
            response.stats = try cgroup.stats()
            reply.ok(response)
        } catch let error as CgroupV2Metrics.Failure {
            // A cgroup that is gone or unreadable: the reader's error as it
            // is (code Unknown), as runc.v2 passes containerd/cgroups' on.
            reply.fail(RPCError(.unknown, error.description))
        } catch {
            reply.fail(RPCError(.internal, "cannot encode the metrics: \(error)"))
        }
    }

    /// The init's pid while the container exists (Connect).
    var taskPid: UInt32 { isCreated ? UInt32(bitPattern: core.snapshot.pid) : 0 }

    // --- the container and its processes -------------------------------------------

    /// Created and not deleted: what containerd's runc shim has in its map.
    var isCreated: Bool {
        switch core.snapshot.status {
        case .created, .running, .paused, .stopped: true
        case .none, .deleted: false
        }
    }

    func checkContainer<R>(_ id: String, _ reply: Reply<R>) -> Bool {
        guard id == containerID, isCreated else {
            reply.fail(RPCError(.notFound, "container not created"))
            return false
        }
        return true
    }

    static func execID(_ id: String) -> String? { id.isEmpty ? nil : id }

    /// containerd's exit status: the wait status's code (128+signal for a
    /// signal); an unknown exit (the runtime lost the process) is 255.
    static func exitStatus(_ code: Int32) -> UInt32 { code < 0 ? 255 : UInt32(code) }

    private func state(_ req: Containerd_Task_V2_StateRequest) throws(RPCError) -> Containerd_Task_V2_StateResponse {
        guard req.id == containerID, isCreated else { throw RPCError(.notFound, "container not created") }
        var response = Containerd_Task_V2_StateResponse()
        response.bundle = created?.bundle ?? ""
        guard let execID = Self.execID(req.execID) else {
            let snapshot = core.snapshot
            response.id = containerID
            response.pid = UInt32(bitPattern: snapshot.pid)
            response.status = Self.status(snapshot.status)
            response.stdin = created?.stdin ?? ""
            response.stdout = created?.stdout ?? ""
            response.stderr = created?.stderr ?? ""
            response.terminal = created?.terminal ?? false
            if snapshot.status == .stopped, let code = snapshot.exitCode {
                response.exitStatus = Self.exitStatus(code)
                response.exitedAt = Timestamps.from(nanos: snapshot.finishedAt)
            }
            return response
        }
        let exec: ExecSnapshot
        switch core.execState(execID) {
        case .success(let snapshot): exec = snapshot
        case .failure(let error): throw Self.processError(error, execID: execID)
        }
        response.id = execID
        response.pid = UInt32(bitPattern: exec.pid)
        if let code = exec.exitCode {
            response.status = .stopped
            response.exitStatus = Self.exitStatus(code)
            response.exitedAt = Timestamps.from(nanos: exec.finishedAt)
        } else {
            response.status = exec.pid > 0 ? .running : .created
        }
        let stdio = execStdio[execID] ?? TaskStdio()
        response.stdin = stdio.stdin
        response.stdout = stdio.stdout
        response.stderr = stdio.stderr
        response.terminal = stdio.terminal
        return response
    }

    static func status(_ status: ContainerStatus) -> Containerd_V1_Types_Status {
        switch status {
        case .created: .created
        case .running: .running
        case .paused: .paused
        case .stopped: .stopped
        case .none, .deleted: .unknown
        }
    }

    /// A failure the runtime reported, worded as containerd's runc shim
    /// words it (pkg/process runtimeError: "OCI runtime create failed: " and
    /// the runtime's own text, code Unknown); other failures as they are.
    static func runtimeError(_ error: CoreError, _ operation: String) -> RPCError {
        guard let message = error.runtimeMessage else { return RPCError(error) }
        return RPCError(.unknown, "OCI runtime \(operation) failed: \(message)")
    }

    /// An unknown exec id is NotFound, as containerd's runc shim says it.
    static func processError(_ error: CoreError, execID: String) -> RPCError {
        if error.kind == .notFound { return RPCError(.notFound, "process \(execID) does not exist") }
        return RPCError(error)
    }
}
