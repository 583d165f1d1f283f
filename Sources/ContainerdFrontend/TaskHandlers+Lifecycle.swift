import ContainerdProtocol
import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimServer
import ShimSystem
import SwiftProtobuf

/// Create, Start and Delete: the container's and an exec's life.
extension TaskHandlers {
    // --- create and start ------------------------------------------------------------

    func create(_ req: Containerd_Task_V2_CreateTaskRequest, _ reply: Reply<Containerd_Task_V2_CreateTaskResponse>) {
        guard req.id == containerID else {
            return reply.fail(RPCError(.invalidArgument, "this shim serves container \(containerID), not \(req.id)"))
        }
        if isCreated || created != nil { return reply.fail(RPCError(.alreadyExists, "container \(containerID) already exists")) }
        var options = CreateOptions(bundle: req.bundle.isEmpty ? bundlePaths.bundle : req.bundle)
        let stdio = TaskStdio(stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal)
        var logger: BinaryLogger?
        do throws(RPCError) {
            let runc: Containerd_Runc_V1_Options?
            do { runc = try RuncOptions.decode(req.options) } catch { throw RPCError(.invalidArgument, "\(error)") }
            try apply(runc, to: &options)
            options.terminal = req.terminal
            options.stdin = stdio.hasStdin
            options.log.drivers = [.none]
            options.attachSocket = false
            options.controlFIFOs = false
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
                (options.relayedStdio, logger) = try stdio.open(id: containerID, namespace: namespace, loop: shim.loop,
                                                                reaper: shim.host.reaper, log: log)
            } catch {
                unmountRootfs()
                throw error
            }
            // A logging binary's pipes stay the shim's (runc.v2 chowns
            // only the pipes it copies FIFOs and files through).
            if logger != nil { options.stdioOwner = nil }
        } catch {
            return reply.fail(error)
        }
        created = req
        initLogger = logger
        let proceed = { [self] in
            core.create(options) { [self] result in
                switch result {
                case .success(let pid):
                    cgroup = ContainerCgroup.of(pid: pid)
                    var response = Containerd_Task_V2_CreateTaskResponse()
                    response.pid = UInt32(bitPattern: pid)
                    reply.ok(response)
                case .failure(let error):
                    createFailed()
                    reply.fail(Self.runtimeError(error, req.checkpoint.isEmpty ? "create" : "restore"))
                }
            }
        }
        guard let logger else { return proceed() }
        // The process is created once its logging binary is ready, as
        // containerd's runc shim waits for it (the stdio relay would hold
        // the output meanwhile anyway).
        logger.whenReady { [self] result in
            switch result {
            case .success:
                proceed()
            case .failure(let error):
                options.relayedStdio?.closeAll()
                createFailed()
                reply.fail(error)
            }
        }
    }

    private func createFailed() {
        created = nil
        initLogger?.kill()
        initLogger = nil
        unmountRootfs()
    }

    /// The runc shim's options, as containerd's runc shim applies them
    /// (runtime/v2/runc/container.go newInit, pkg/process NewRunc): the
    /// runtime binary and root (per namespace), systemd cgroups,
    /// no_pivot_root, no_new_keyring, criu_path (runc's --criu), and
    /// io_uid/io_gid (the owner of the stdio pipes, for the init and every
    /// exec). shim_cgroup was applied at `start`; criu_work_path is the
    /// restore's and checkpoint's; criu_image_path is not used by runc.v2
    /// either.
    func apply(_ runc: Containerd_Runc_V1_Options?, to options: inout CreateOptions) throws(RPCError) {
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
        if !runc.criuPath.isEmpty { options.runtimeGlobalArgs += ["--criu", runc.criuPath] }
        if runc.ioUid != 0 || runc.ioGid != 0 {
            stdioOwner = StdioOwner(uid: runc.ioUid, gid: runc.ioGid)
            options.stdioOwner = stdioOwner
        }
    }

    func unmountRootfs() {
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

    func start(_ req: Containerd_Task_V2_StartRequest, _ reply: Reply<Containerd_Task_V2_StartResponse>) {
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

    func delete(_ req: Containerd_Task_V2_DeleteRequest, _ reply: Reply<Containerd_Task_V2_DeleteResponse>) {
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
                // containerd's runc shim answers once the exec's logging
                // binary is done (its io Close).
                guard let logger = execLoggers.removeValue(forKey: execID) else { return reply.ok(response) }
                logger.stop { reply.ok(response) }
            } catch {
                reply.fail(error)
            }
            return
        }
        let pid = core.snapshot.pid
        core.delete(force: false) { [self] result in
            switch result {
            case .success(let exit):
                // The logging binary is done before the rootfs goes and
                // the delete is published, as in containerd's runc shim.
                let logger = initLogger
                initLogger = nil
                guard let logger else { return deleted(exit, pid: pid, reply) }
                logger.stop { [self] in deleted(exit, pid: pid, reply) }
            case .failure(let error):
                reply.fail(RPCError(error))
            }
        }
    }

    private func deleted(_ exit: ProcessExit?, pid: Int32, _ reply: Reply<Containerd_Task_V2_DeleteResponse>) {
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
        cgroup = nil
        reply.ok(response)
        shim.taskDeleted(containerID)
    }
}
