import Glibc
import ShimCore
import ShimProtocol

/// The RPC surface: each handler decodes nothing and decides nothing itself —
/// it translates a request into a RuntimeCore call and the outcome into a
/// response. Methods without a handler answer UNIMPLEMENTED via the router.
final class ShimServiceHandlers {
    private let core: RuntimeCore
    private let server: ShimServer

    init(core: RuntimeCore, server: ShimServer) {
        self.core = core
        self.server = server
    }

    func register(on router: RPCRouter) {
        router.unary("Hello") { [unowned self] (req: Ocishim_V1_HelloRequest, reply: Reply<Ocishim_V1_HelloResponse>) in
            if !req.client.isEmpty { server.log.info("hello from \(req.client)") }
            var res = Ocishim_V1_HelloResponse()
            res.shimVersion = ShimVersion.current
            res.shimPid = getpid()
            res.protocolVersion = ShimService.protocolVersion
            res.framing = ShimService.framing
            res.containerID = core.containerID
            res.stateDir = core.config.stateDir
            res.methods = router.implementedMethods()
            reply.ok(res)
        }

        router.unary("RuntimeInfo") { [unowned self] (_: Ocishim_V1_RuntimeInfoRequest, reply: Reply<Ocishim_V1_RuntimeInfoResponse>) in
            core.runtimeInfo { result in
                reply(result.rpc.map { info in
                    var res = Ocishim_V1_RuntimeInfoResponse()
                    res.runtime = .init(info.runtime)
                    res.shim = .init(info.shim)
                    return res
                })
            }
        }

        router.unary("Capabilities") { [unowned self] (_: Ocishim_V1_CapabilitiesRequest, reply: Reply<Ocishim_V1_CapabilitiesResponse>) in
            core.capabilities { caps in
                var res = Ocishim_V1_CapabilitiesResponse()
                res.checkpoint = caps.checkpoint
                res.jsonErrors = caps.jsonErrors
                res.noCgroups = caps.noCgroups
                res.kvm = caps.kvm
                res.runtimeName = caps.runtimeName
                reply.ok(res)
            }
        }

        router.unary("SupportsCheckpoint") { [unowned self] (_: Ocishim_V1_SupportsCheckpointRequest, reply: Reply<Ocishim_V1_SupportsCheckpointResponse>) in
            core.checkpointSupport { support in
                var res = Ocishim_V1_SupportsCheckpointResponse()
                res.runtimeSupports = support.runtimeSupports
                res.criuWorks = support.criuWorks
                res.criuReason = support.criuReason
                reply.ok(res)
            }
        }

        router.unary("Shutdown") { [unowned self] (req: Ocishim_V1_ShutdownRequest, reply: Reply<Ocishim_V1_ShutdownResponse>) in
            guard core.holdsContainer else {
                reply.ok(Ocishim_V1_ShutdownResponse())
                return server.exitSoon(status: 0, reason: "Shutdown requested")
            }
            guard req.force else {
                return reply.fail(RPCError(.failedPrecondition,
                    "container \(core.containerID) exists; delete it first or shut down with force"))
            }
            // Force: the container goes first (killed, deleted from the
            // runtime), so the shim leaves nothing behind.
            core.delete(force: true) { [server] result in
                switch result {
                case .success:
                    reply.ok(Ocishim_V1_ShutdownResponse())
                    server.exitSoon(status: 0, reason: "Shutdown requested")
                case .failure(let error):
                    reply.fail(RPCError(error))
                }
            }
        }
    }
}

extension Ocishim_V1_ComponentInfo {
    init(_ info: ComponentInfo) {
        self.init()
        name = info.name
        path = info.path
        package = info.package
        version = info.version
    }
}
