import ContainerdProtocol
import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimServer
import ShimSystem
import SwiftProtobuf

/// `containerd.task.v2.Task` on the core: each call translated to
/// RuntimeCore's process-addressed calls (an empty exec id is the init, as
/// in containerd's runc shim, runtime/v2/runc/task/service.go), answers
/// shaped as that shim shapes them.
final class TaskHandlers {
    typealias Empty = Google_Protobuf_Empty

    private let core: RuntimeCore
    private let namespace: String
    private let bundlePaths: ShimPaths
    private let log: Logger
    private unowned let shim: ContainerdShim
    /// What Create was given: State answers with its stdio, TaskCreate
    /// carries it.
    private var created: Containerd_Task_V2_CreateTaskRequest?
    private var execStdio: [String: TaskStdio] = [:]
    /// `<bundle>/rootfs` when this shim mounted the rootfs there.
    private var mountedRootfs: String?
    private var metrics: CgroupMetrics?

    init(core: RuntimeCore, namespace: String, paths: ShimPaths, shim: ContainerdShim, log: Logger) {
        self.core = core
        self.namespace = namespace
        self.bundlePaths = paths
        self.shim = shim
        self.log = log
    }

    var containerID: String { core.containerID }

    func register(on router: RPCRouter) {
        let service = TaskService.catalog
        router.unary("State", of: service) { [unowned self] (req: Containerd_Task_V2_StateRequest, reply: Reply<Containerd_Task_V2_StateResponse>) in
            do throws(RPCError) { reply.ok(try state(req)) } catch { reply.fail(error) }
        }
        router.unary("Create", of: service) { [unowned self] (req: Containerd_Task_V2_CreateTaskRequest, reply: Reply<Containerd_Task_V2_CreateTaskResponse>) in
            create(req, reply)
        }
        router.unary("Start", of: service) { [unowned self] (req: Containerd_Task_V2_StartRequest, reply: Reply<Containerd_Task_V2_StartResponse>) in
            start(req, reply)
        }
        router.unary("Delete", of: service) { [unowned self] (req: Containerd_Task_V2_DeleteRequest, reply: Reply<Containerd_Task_V2_DeleteResponse>) in
            delete(req, reply)
        }
        router.unary("Pids", of: service) { [unowned self] (req: Containerd_Task_V2_PidsRequest, reply: Reply<Containerd_Task_V2_PidsResponse>) in
            pids(req, reply)
        }
        router.unary("Pause", of: service) { [unowned self] (req: Containerd_Task_V2_PauseRequest, reply: Reply<Empty>) in
            guard checkContainer(req.id, reply) else { return }
            core.pause { reply($0.mapError { Self.runtimeError($0, "pause") }.map { Empty() }) }
        }
        router.unary("Resume", of: service) { [unowned self] (req: Containerd_Task_V2_ResumeRequest, reply: Reply<Empty>) in
            guard checkContainer(req.id, reply) else { return }
            core.resume { reply($0.mapError { Self.runtimeError($0, "resume") }.map { Empty() }) }
        }
        router.unary("Checkpoint", of: service) { [unowned self] (req: Containerd_Task_V2_CheckpointTaskRequest, reply: Reply<Empty>) in
            checkpoint(req, reply)
        }
        router.unary("Kill", of: service) { [unowned self] (req: Containerd_Task_V2_KillRequest, reply: Reply<Empty>) in
            kill(req, reply)
        }
        router.unary("Exec", of: service) { [unowned self] (req: Containerd_Task_V2_ExecProcessRequest, reply: Reply<Empty>) in
            exec(req, reply)
        }
        router.unary("ResizePty", of: service) { [unowned self] (req: Containerd_Task_V2_ResizePtyRequest, reply: Reply<Empty>) in
            guard checkContainer(req.id, reply) else { return }
            do throws(CoreError) {
                try core.resize(execID: Self.execID(req.execID), rows: UInt16(clamping: req.height), columns: UInt16(clamping: req.width))
                reply.ok(Empty())
            } catch {
                reply.fail(RPCError(error))
            }
        }
        router.unary("CloseIO", of: service) { [unowned self] (req: Containerd_Task_V2_CloseIORequest, reply: Reply<Empty>) in
            guard checkContainer(req.id, reply) else { return }
            guard req.stdin else { return reply.ok(Empty()) }
            do throws(CoreError) {
                try core.closeStdin(execID: Self.execID(req.execID))
                reply.ok(Empty())
            } catch {
                reply.fail(RPCError(error))
            }
        }
        router.unary("Update", of: service) { [unowned self] (req: Containerd_Task_V2_UpdateTaskRequest, reply: Reply<Empty>) in
            guard checkContainer(req.id, reply) else { return }
            guard req.resources.typeURL == TypeURL.ociLinuxResources else {
                return reply.fail(RPCError(.invalidArgument, "unsupported resources type \(req.resources.typeURL) (want \(TypeURL.ociLinuxResources))"))
            }
            core.update(resourcesJSON: String(decoding: [UInt8](req.resources.value), as: UTF8.self)) { reply($0.rpc.map { Empty() }) }
        }
        router.unary("Wait", of: service) { [unowned self] (req: Containerd_Task_V2_WaitRequest, reply: Reply<Containerd_Task_V2_WaitResponse>) in
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
        router.unary("Stats", of: service) { [unowned self] (req: Containerd_Task_V2_StatsRequest, reply: Reply<Containerd_Task_V2_StatsResponse>) in
            guard checkContainer(req.id, reply) else { return }
            guard let metrics else { return reply.fail(RPCError(.notFound, "cgroup does not exist")) }
            do {
                var response = Containerd_Task_V2_StatsResponse()
                response.stats = try TypeURL.pack(metrics.read())
                reply.ok(response)
            } catch {
                reply.fail(RPCError(.internal, "cannot encode the metrics: \(error)"))
            }
        }
        router.unary("Connect", of: service) { [unowned self] (_: Containerd_Task_V2_ConnectRequest, reply: Reply<Containerd_Task_V2_ConnectResponse>) in
            var response = Containerd_Task_V2_ConnectResponse()
            response.shimPid = UInt32(getpid())
            response.taskPid = isCreated ? UInt32(bitPattern: core.snapshot.pid) : 0
            reply.ok(response)
        }
        router.unary("Shutdown", of: service) { [unowned self] (_: Containerd_Task_V2_ShutdownRequest, reply: Reply<Empty>) in
            // As containerd's runc shim: a shim with a container goes on.
            reply.ok(Empty())
            if !core.holdsContainer { shim.exitSoon(reason: "Shutdown") }
        }
    }

    // --- the container and its processes -------------------------------------------

    /// Created and not deleted: what containerd's runc shim has in its map.
    private var isCreated: Bool {
        switch core.snapshot.status {
        case .created, .running, .paused, .stopped: true
        case .none, .deleted: false
        }
    }

    private func checkContainer<R>(_ id: String, _ reply: Reply<R>) -> Bool {
        guard id == containerID, isCreated else {
            reply.fail(RPCError(.notFound, "container not created"))
            return false
        }
        return true
    }

    private static func execID(_ id: String) -> String? { id.isEmpty ? nil : id }

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
    private static func processError(_ error: CoreError, execID: String) -> RPCError {
        if error.kind == .notFound { return RPCError(.notFound, "process \(execID) does not exist") }
        return RPCError(error)
    }

    // --- create and start ------------------------------------------------------------

    private func create(_ req: Containerd_Task_V2_CreateTaskRequest, _ reply: Reply<Containerd_Task_V2_CreateTaskResponse>) {
        guard req.id == containerID else {
            return reply.fail(RPCError(.invalidArgument, "this shim serves container \(containerID), not \(req.id)"))
        }
        if isCreated { return reply.fail(RPCError(.alreadyExists, "container \(containerID) already exists")) }
        var options = CreateOptions(bundle: req.bundle.isEmpty ? bundlePaths.bundle : req.bundle)
        let stdio = TaskStdio(stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal)
        do throws(RPCError) {
            let runc: Containerd_Runc_V1_Options?
            do { runc = try RuncOptions.decode(req.options) } catch { throw RPCError(.invalidArgument, "\(error)") }
            try apply(runc, to: &options)
            options.terminal = req.terminal
            options.stdin = !req.stdin.isEmpty
            options.log.drivers = [.none]
            options.attachEndpoints = false
            options.killAllWhenInitExits = Self.sharesPidNamespace(bundle: options.bundle)
            if !req.checkpoint.isEmpty {
                var restore = RestoreOptions(imagePath: req.checkpoint)
                restore.workPath = runc.map(\.criuWorkPath).flatMap { $0.isEmpty ? nil : $0 } ?? bundlePaths.criuWorkDir
                options.restore = restore
            }
            let mounts = req.rootfs.map { RootfsMounts.Mount(type: $0.type, source: $0.source, options: $0.options) }
            let rootfs = FileSystem.join(options.bundle, "rootfs")
            do { try RootfsMounts.mount(mounts, on: rootfs) } catch { throw RPCError(.internal, "\(error)") }
            if !mounts.isEmpty { mountedRootfs = rootfs }
            do {
                options.relayedStdio = try stdio.open()
            } catch {
                unmountRootfs()
                throw error
            }
        } catch {
            return reply.fail(error)
        }
        created = req
        core.create(options) { [self] result in
            switch result {
            case .success(let pid):
                metrics = CgroupMetrics.of(pid: pid)
                var response = Containerd_Task_V2_CreateTaskResponse()
                response.pid = UInt32(bitPattern: pid)
                reply.ok(response)
            case .failure(let error):
                created = nil
                unmountRootfs()
                reply.fail(Self.runtimeError(error, req.checkpoint.isEmpty ? "create" : "restore"))
            }
        }
    }

    /// The runc shim's options that this shim honours: the runtime binary
    /// and root (per namespace, as containerd's runc shim roots runc),
    /// systemd cgroups, no_pivot_root, no_new_keyring. shim_cgroup was
    /// applied at `start`; io_uid/io_gid and criu_path are not supported.
    private func apply(_ runc: Containerd_Runc_V1_Options?, to options: inout CreateOptions) throws(RPCError) {
        options.runtimeRoot = ShimPaths.runtimeRoot(base: runc?.root ?? "", namespace: namespace)
        guard let runc else { return }
        if !runc.binaryName.isEmpty {
            guard let path = runc.binaryName.contains("/") ? runc.binaryName : FileSystem.lookPath(runc.binaryName) else {
                throw RPCError(.invalidArgument, "runtime binary \(runc.binaryName) not found in PATH")
            }
            options.runtimePath = path
        }
        if runc.systemdCgroup { options.cgroupManager = "systemd" }
        options.noPivot = runc.noPivotRoot
        options.noNewKeyring = runc.noNewKeyring
        if runc.ioUid != 0 || runc.ioGid != 0 {
            throw RPCError(.unimplemented, "io_uid and io_gid are not supported by this shim")
        }
    }

    private func unmountRootfs() {
        if let mountedRootfs { RootfsMounts.unmountAll(mountedRootfs) }
        mountedRootfs = nil
    }

    /// Whether the container shares a pid namespace (it has none of its own,
    /// or one given by path): then its other processes are killed with its
    /// init, as containerd's runc shim does (ShouldKillAllOnExit).
    static func sharesPidNamespace(bundle: String) -> Bool {
        guard let bytes = try? FileSystem.read(FileSystem.join(bundle, "config.json"), limit: 4 << 20),
              let config = try? JSONValue(parsing: bytes) else { return true }
        for namespace in config["linux"]?["namespaces"]?.arrayValue ?? [] where namespace["type"]?.stringValue == "pid" {
            if (namespace["path"]?.stringValue ?? "").isEmpty { return false }
        }
        return true
    }

    private func start(_ req: Containerd_Task_V2_StartRequest, _ reply: Reply<Containerd_Task_V2_StartResponse>) {
        guard checkContainer(req.id, reply) else { return }
        if let execID = Self.execID(req.execID) {
            core.startExec(execID) { result in
                reply(result.mapError { error in
                    error.runtimeMessage != nil ? Self.runtimeError(error, "exec") : Self.processError(error, execID: execID)
                }.map { pid in
                    var response = Containerd_Task_V2_StartResponse()
                    response.pid = UInt32(bitPattern: pid)
                    return response
                })
            }
            return
        }
        core.start { result in
            reply(result.mapError { Self.runtimeError($0, "start") }.map { started in
                var response = Containerd_Task_V2_StartResponse()
                response.pid = UInt32(bitPattern: started.pid)
                return response
            })
        }
    }

    // --- delete --------------------------------------------------------------------------

    private func delete(_ req: Containerd_Task_V2_DeleteRequest, _ reply: Reply<Containerd_Task_V2_DeleteResponse>) {
        guard checkContainer(req.id, reply) else { return }
        if let execID = Self.execID(req.execID) {
            do throws(RPCError) {
                let exec: ExecSnapshot
                switch core.execState(execID) {
                case .success(let snapshot): exec = snapshot
                case .failure(let error): throw Self.processError(error, execID: execID)
                }
                if exec.exitCode == nil && exec.pid > 0 {
                    throw RPCError(.failedPrecondition, "cannot delete a running process")
                }
                do throws(CoreError) { try core.removeExec(execID) } catch { throw RPCError(error) }
                execStdio[execID] = nil
                var response = Containerd_Task_V2_DeleteResponse()
                response.pid = UInt32(bitPattern: exec.pid)
                if let code = exec.exitCode {
                    response.exitStatus = Self.exitStatus(code)
                    response.exitedAt = Timestamps.from(nanos: exec.finishedAt)
                }
                reply.ok(response)
            } catch {
                reply.fail(error)
            }
            return
        }
        let pid = core.snapshot.pid
        core.delete(force: false) { [self] result in
            switch result {
            case .success(let exit):
                unmountRootfs()
                var response = Containerd_Task_V2_DeleteResponse()
                response.pid = UInt32(bitPattern: pid)
                if let exit {
                    response.exitStatus = Self.exitStatus(exit.exitCode)
                    response.exitedAt = Timestamps.from(nanos: exit.finishedAt)
                }
                var event = Containerd_Events_TaskDelete()
                event.containerID = containerID
                event.pid = response.pid
                event.exitStatus = response.exitStatus
                if response.hasExitedAt { event.exitedAt = response.exitedAt }
                shim.publish(topic: "/tasks/delete", event)
                created = nil
                metrics = nil
                reply.ok(response)
            case .failure(let error):
                reply.fail(RPCError(error))
            }
        }
    }

    // --- processes -------------------------------------------------------------------------

    private func pids(_ req: Containerd_Task_V2_PidsRequest, _ reply: Reply<Containerd_Task_V2_PidsResponse>) {
        guard checkContainer(req.id, reply) else { return }
        core.processIDs { [core] result in
            reply(result.rpc.map { pids in
                let execs = Dictionary(core.execProcesses.filter { $0.pid > 0 }.map { ($0.pid, $0.execID) }) { first, _ in first }
                var response = Containerd_Task_V2_PidsResponse()
                response.processes = pids.map { pid in
                    var info = Containerd_V1_Types_ProcessInfo()
                    info.pid = UInt32(bitPattern: pid)
                    if let execID = execs[pid] {
                        var details = Containerd_Runc_V1_ProcessDetails()
                        details.execID = execID
                        if let any = try? TypeURL.pack(details) { info.info = any }
                    }
                    return info
                }
                return response
            })
        }
    }

    private func kill(_ req: Containerd_Task_V2_KillRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        guard req.signal <= 64 else { return reply.fail(RPCError(.invalidArgument, "invalid signal \(req.signal)")) }
        let execID = Self.execID(req.execID)
        // A process that has exited: containerd's runc shim says "process
        // already finished" (NotFound), which ctr and CRI expect.
        if let execID {
            if case .success(let exec) = core.execState(execID), exec.exitCode != nil {
                return reply.fail(RPCError(.notFound, "process already finished"))
            }
        } else if core.snapshot.status == .stopped {
            return reply.fail(RPCError(.notFound, "process already finished"))
        }
        core.kill(execID: execID, signal: Int32(req.signal), all: req.all) { result in
            switch result {
            case .success: reply.ok(Empty())
            case .failure(let error): reply.fail(execID.map { Self.processError(error, execID: $0) } ?? RPCError(error))
            }
        }
    }

    private func exec(_ req: Containerd_Task_V2_ExecProcessRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        guard req.spec.typeURL == TypeURL.ociProcess else {
            return reply.fail(RPCError(.invalidArgument, "unsupported exec spec type \(req.spec.typeURL) (want \(TypeURL.ociProcess))"))
        }
        let specBytes = [UInt8](req.spec.value)
        guard let spec = try? JSONValue(parsing: specBytes), spec.objectValue != nil else {
            return reply.fail(RPCError(.invalidArgument, "the exec spec is not an OCI process (JSON object)"))
        }
        let specFile = bundlePaths.execSpecFile(req.execID)
        do throws(RPCError) {
            do throws(CoreError) { try ShimConfig.validateContainerID(req.execID) } catch {
                throw RPCError(.invalidArgument, "invalid exec id \(req.execID): \(error.message)")
            }
            do { try FileSystem.writeAtomically(specFile, specBytes, mode: 0o600) } catch {
                throw RPCError(.internal, "cannot write the exec spec: \(error)")
            }
            defer { try? FileSystem.removeFile(specFile) }
            var options = ExecOptions(execID: req.execID, args: spec["args"]?.stringArray ?? [])
            options.processSpecPath = specFile
            options.terminal = req.terminal
            options.stdin = !req.stdin.isEmpty
            options.attachEndpoints = false
            let stdio = TaskStdio(stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal)
            options.relayedStdio = try stdio.open()
            if case .failure(let error) = core.registerExec(options) {
                throw error.kind == .alreadyExists ? RPCError(.alreadyExists, "id \(req.execID)") : RPCError(error)
            }
            execStdio[req.execID] = stdio
        } catch {
            return reply.fail(error)
        }
        var event = Containerd_Events_TaskExecAdded()
        event.containerID = containerID
        event.execID = req.execID
        shim.publish(topic: "/tasks/exec-added", event)
        reply.ok(Empty())
    }

    private func checkpoint(_ req: Containerd_Task_V2_CheckpointTaskRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        var given = Containerd_Runc_V1_CheckpointOptions()
        if !req.options.typeURL.isEmpty {
            guard req.options.typeURL == TypeURL.checkpointOptions,
                  let decoded = try? Containerd_Runc_V1_CheckpointOptions(serializedBytes: [UInt8](req.options.value)) else {
                return reply.fail(RPCError(.invalidArgument, "unsupported checkpoint options \(req.options.typeURL) (want \(TypeURL.checkpointOptions))"))
            }
            given = decoded
        }
        var options = CheckpointOptions(imagePath: req.path.isEmpty ? given.imagePath : req.path)
        if !given.workPath.isEmpty { options.workPath = given.workPath }
        options.leaveRunning = !given.exit
        options.tcpEstablished = given.openTcp
        options.fileLocks = given.fileLocks
        if given.externalUnixSockets { options.runtimeArgs.append("--ext-unix-sk") }
        if given.terminal { options.runtimeArgs.append("--shell-job") }
        for namespace in given.emptyNamespaces { options.runtimeArgs += ["--empty-ns", namespace] }
        if !given.cgroupsMode.isEmpty { options.runtimeArgs += ["--manage-cgroups-mode", given.cgroupsMode] }
        core.checkpoint(options) { reply($0.rpc.map { _ in Empty() }) }
    }

    // --- events ------------------------------------------------------------------------------

    /// The core's events as containerd's task events (topics of
    /// runtime/v2/runc/util.go GetTopic), in the order they happened.
    /// TaskCreate, TaskExecAdded and TaskDelete come from the handlers, as
    /// in containerd's runc shim; TaskCheckpointed is containerd's own.
    func coreEvent(_ event: ContainerEvent) {
        switch event.kind {
        case .created, .restored:
            guard let created else { return }
            var message = Containerd_Events_TaskCreate()
            message.containerID = containerID
            message.bundle = created.bundle
            message.rootfs = created.rootfs
            var io = Containerd_Events_TaskIO()
            io.stdin = created.stdin
            io.stdout = created.stdout
            io.stderr = created.stderr
            io.terminal = created.terminal
            message.io = io
            message.checkpoint = created.checkpoint
            message.pid = UInt32(bitPattern: event.pid)
            shim.publish(topic: "/tasks/create", message)
        case .started:
            var message = Containerd_Events_TaskStart()
            message.containerID = containerID
            message.pid = UInt32(bitPattern: event.pid)
            shim.publish(topic: "/tasks/start", message)
        case .exited, .execExited:
            var message = Containerd_Events_TaskExit()
            message.containerID = containerID
            message.pid = UInt32(bitPattern: event.pid)
            message.exitStatus = Self.exitStatus(event.exitCode)
            if event.kind == .exited {
                message.id = containerID
                message.exitedAt = Timestamps.from(nanos: core.snapshot.finishedAt)
            } else {
                message.id = event.execID
                let finishedAt = (try? core.execState(event.execID).get())?.finishedAt ?? event.timestamp
                message.exitedAt = Timestamps.from(nanos: finishedAt)
            }
            shim.publish(topic: "/tasks/exit", message)
        case .execStarted:
            var message = Containerd_Events_TaskExecStarted()
            message.containerID = containerID
            message.execID = event.execID
            message.pid = UInt32(bitPattern: event.pid)
            shim.publish(topic: "/tasks/exec-started", message)
        case .oom:
            var message = Containerd_Events_TaskOOM()
            message.containerID = containerID
            shim.publish(topic: "/tasks/oom", message)
        case .paused:
            var message = Containerd_Events_TaskPaused()
            message.containerID = containerID
            shim.publish(topic: "/tasks/paused", message)
        case .resumed:
            var message = Containerd_Events_TaskResumed()
            message.containerID = containerID
            shim.publish(topic: "/tasks/resumed", message)
        case .deleted, .checkpointed, .logError, .logResumed:
            break
        }
    }
}
