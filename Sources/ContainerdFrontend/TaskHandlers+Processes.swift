import ContainerdProtocol
import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimServer
import ShimSystem
import SwiftProtobuf

/// Pids, Kill, Exec and Checkpoint: the processes of the container.
extension TaskHandlers {
    // --- processes -------------------------------------------------------------------------

    func pids(_ req: Containerd_Task_V2_PidsRequest, _ reply: Reply<Containerd_Task_V2_PidsResponse>) {
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

    func kill(_ req: Containerd_Task_V2_KillRequest, _ reply: Reply<Empty>) {
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

    func exec(_ req: Containerd_Task_V2_ExecProcessRequest, _ reply: Reply<Empty>) {
        guard checkContainer(req.id, reply) else { return }
        guard req.spec.typeURL == TypeURL.ociProcess else {
            return reply.fail(RPCError(.invalidArgument, "unsupported exec spec type \(req.spec.typeURL) (want \(TypeURL.ociProcess))"))
        }
        let specBytes = [UInt8](req.spec.value)
        guard let spec = try? JSONValue(parsing: specBytes), spec.objectValue != nil else {
            return reply.fail(RPCError(.invalidArgument, "the exec spec is not an OCI process (JSON object)"))
        }
        let specFile = bundlePaths.execSpecFile(req.execID)
        var options = ExecOptions(execID: req.execID, args: spec["args"]?.stringArray ?? [])
        let stdio = TaskStdio(stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal)
        var logger: BinaryLogger?
        do throws(RPCError) {
            do throws(CoreError) { try ShimConfig.validateContainerID(req.execID) } catch {
                throw RPCError(.invalidArgument, "invalid exec id \(req.execID): \(error.message)")
            }
            if core.execProcesses.contains(where: { $0.execID == req.execID }) || execLoggers[req.execID] != nil {
                throw RPCError(.alreadyExists, "id \(req.execID)")
            }
            options.processSpecPath = specFile
            options.terminal = req.terminal
            options.stdin = stdio.hasStdin
            options.attachSocket = false
            // The exec's logging binary gets the exec id as CONTAINER_ID,
            // as containerd's runc shim gives it.
            (options.relayedStdio, logger) = try stdio.open(id: req.execID, namespace: namespace, loop: shim.loop,
                                                            reaper: shim.host.reaper, log: log)
            options.stdioOwner = logger == nil ? stdioOwner : nil
        } catch {
            return reply.fail(error)
        }
        let register = { [self] in
            do throws(RPCError) {
                do { try FileSystem.writeAtomically(specFile, specBytes, mode: 0o600) } catch {
                    options.relayedStdio?.closeAll()
                    throw RPCError(.internal, "cannot write the exec spec: \(error)")
                }
                defer { try? FileSystem.removeFile(specFile) }
                if case .failure(let error) = core.registerExec(options) {
                    throw error.kind == .alreadyExists ? RPCError(.alreadyExists, "id \(req.execID)") : RPCError(error)
                }
                execStdio[req.execID] = stdio
                execLoggers[req.execID] = logger
            } catch {
                logger?.kill()
                return reply.fail(error)
            }
            var event = Containerd_Events_TaskExecAdded()
            event.containerID = containerID
            event.execID = req.execID
            shim.publish(topic: "/tasks/exec-added", event)
            reply.ok(Empty())
        }
        guard let logger else { return register() }
        execLoggers[req.execID] = logger
        logger.whenReady { [self] result in
            execLoggers[req.execID] = nil
            switch result {
            case .success:
                register()
            case .failure(let error):
                options.relayedStdio?.closeAll()
                logger.kill()
                reply.fail(error)
            }
        }
    }

    func checkpoint(_ req: Containerd_Task_V2_CheckpointTaskRequest, _ reply: Reply<Empty>) {
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
}
