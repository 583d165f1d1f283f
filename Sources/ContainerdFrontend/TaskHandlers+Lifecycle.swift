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
        if runc.ioUid != 0 || runc.ioGid != 0 {
            throw RPCError(.unimplemented, "io_uid and io_gid are not supported by this shim")
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
                shim.taskDeleted(containerID)
            case .failure(let error):
                reply.fail(RPCError(error))
            }
        }
    }
}
