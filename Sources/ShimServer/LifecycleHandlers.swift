import ShimCore
import ShimProtocol

/// Create ... Events: each handler translates and calls the core.
final class LifecycleHandlers {
    private let core: RuntimeCore
    private unowned let server: ShimServer

    init(core: RuntimeCore, server: ShimServer) {
        self.core = core
        self.server = server
    }

    func register(on router: RPCRouter) {
        router.unary("Create") { [core] (req: Ocishim_V1_CreateRequest, reply: Reply<Ocishim_V1_CreateResponse>) in
            let options: CreateOptions
            do throws(RPCError) { options = try Translate.createOptions(req, core: core) } catch { return reply.fail(error) }
            core.create(options) { result in
                reply(result.rpc.map { pid in
                    var res = Ocishim_V1_CreateResponse()
                    res.pid = pid
                    res.status = Translate.status(core.snapshot.status)
                    return res
                })
            }
        }

        router.unary("Start") { [core] (_: Ocishim_V1_StartRequest, reply: Reply<Ocishim_V1_StartResponse>) in
            core.start { result in
                reply(result.rpc.map { started in
                    var res = Ocishim_V1_StartResponse()
                    res.pid = started.pid
                    res.startedAt = started.startedAt
                    return res
                })
            }
        }

        router.unary("State") { [core] (req: Ocishim_V1_StateRequest, reply: Reply<Ocishim_V1_StateResponse>) in
            core.state(refresh: req.refresh) { reply($0.rpc.map(Translate.state)) }
        }

        router.unary("Kill") { [core] (req: Ocishim_V1_KillRequest, reply: Reply<Ocishim_V1_KillResponse>) in
            guard req.signal <= 64 else { return reply.fail(RPCError(.invalidArgument, "invalid signal \(req.signal): use 1 to 64")) }
            core.kill(execID: Translate.nonEmpty(req.execID), signal: Int32(req.signal), all: req.all) {
                reply($0.rpc.map { Ocishim_V1_KillResponse() })
            }
        }

        router.unary("Stop") { [core] (req: Ocishim_V1_StopRequest, reply: Reply<Ocishim_V1_StopResponse>) in
            guard req.signal <= 64 else { return reply.fail(RPCError(.invalidArgument, "invalid stop signal \(req.signal): use 1 to 64")) }
            core.stop(timeoutSeconds: req.timeoutSeconds, signal: Int32(req.signal), all: req.all) { result in
                reply(result.rpc.map { stopped in
                    var res = Ocishim_V1_StopResponse()
                    res.exitCode = stopped.0.exitCode
                    res.finishedAt = stopped.0.finishedAt
                    res.escalated = stopped.escalated
                    return res
                })
            }
        }

        router.unary("Delete") { [core, server] (req: Ocishim_V1_DeleteRequest, reply: Reply<Ocishim_V1_DeleteResponse>) in
            server.keepShimAfterDelete = req.keepShim
            core.delete(force: req.force) { result in
                reply(result.rpc.map { exit in
                    var res = Ocishim_V1_DeleteResponse()
                    res.exitCode = exit?.exitCode ?? 0
                    res.finishedAt = exit?.finishedAt ?? 0
                    return res
                })
            }
        }

        router.unary("Pause") { [core] (_: Ocishim_V1_PauseRequest, reply: Reply<Ocishim_V1_PauseResponse>) in
            core.pause { reply($0.rpc.map { Ocishim_V1_PauseResponse() }) }
        }

        router.unary("Resume") { [core] (_: Ocishim_V1_ResumeRequest, reply: Reply<Ocishim_V1_ResumeResponse>) in
            core.resume { reply($0.rpc.map { Ocishim_V1_ResumeResponse() }) }
        }

        router.unary("Update") { [core] (req: Ocishim_V1_UpdateRequest, reply: Reply<Ocishim_V1_UpdateResponse>) in
            core.update(resourcesJSON: req.resourcesJson) { reply($0.rpc.map { Ocishim_V1_UpdateResponse() }) }
        }

        router.unary("Wait") { [core] (_: Ocishim_V1_WaitRequest, reply: Reply<Ocishim_V1_WaitResponse>) in
            let cancel = core.wait { result in
                reply(result.rpc.map { exit in
                    var res = Ocishim_V1_WaitResponse()
                    res.exitCode = exit.exitCode
                    res.finishedAt = exit.finishedAt
                    res.oomKilled = exit.oomKilled
                    res.checkpointed = exit.checkpointed
                    return res
                })
            }
            reply.call.onCancel = cancel
        }

        router.serverStream("Events") { [core] (req: Ocishim_V1_EventsRequest, out: Outbound<Ocishim_V1_Event>) in
            for event in core.events.events(after: req.afterSeq) { out.send(Translate.event(event)) }
            if req.noFollow { return out.finish() }
            let token = core.events.subscribe { event in out.send(Translate.event(event)) }
            out.call.onCancel = { [weak core] in core?.events.unsubscribe(token) }
        }

        router.unary("ReopenLog") { [core] (_: Ocishim_V1_ReopenLogRequest, reply: Reply<Ocishim_V1_ReopenLogResponse>) in
            core.reopenLog { reply($0.rpc.map { Ocishim_V1_ReopenLogResponse() }) }
        }

        router.unary("AttachSocketPath") { [core] (_: Ocishim_V1_AttachSocketPathRequest, reply: Reply<Ocishim_V1_PathResponse>) in
            reply.ok(.with { $0.path = core.paths.attachSocket })
        }

        router.unary("ExecAttachSocketPath") { [core] (req: Ocishim_V1_ExecAttachSocketPathRequest, reply: Reply<Ocishim_V1_PathResponse>) in
            guard !req.execID.isEmpty else {
                return reply.fail(RPCError(.invalidArgument, "must provide a valid session ID to get attach socket path"))
            }
            do throws(CoreError) { try ShimConfig.validateContainerID(req.execID) } catch {
                return reply.fail(RPCError(.invalidArgument, "invalid exec session id: \(error.message)"))
            }
            reply.ok(.with { $0.path = core.paths.execAttachSocket(req.execID) })
        }

        router.unary("ExitFilePath") { [core] (_: Ocishim_V1_ExitFilePathRequest, reply: Reply<Ocishim_V1_PathResponse>) in
            reply.ok(.with { $0.path = core.paths.exitFile })
        }
    }
}
