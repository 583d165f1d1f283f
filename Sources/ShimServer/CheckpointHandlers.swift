import ShimCore
import ShimProtocol

/// Checkpoint: translates and calls the core. Restore is a Create with
/// `restore` set (LifecycleHandlers); SupportsCheckpoint is with the other
/// capability probes (ShimServiceHandlers).
enum CheckpointHandlers {
    static func register(on router: RPCRouter, core: RuntimeCore) {
        router.unary("Checkpoint") { [core] (req: Ocishim_V1_CheckpointRequest, reply: Reply<Ocishim_V1_CheckpointResponse>) in
            let options: CheckpointOptions
            do throws(RPCError) { options = try checkpointOptions(req) } catch { return reply.fail(error) }
            core.checkpoint(options) { result in
                reply(result.rpc.map { outcome in
                    var res = Ocishim_V1_CheckpointResponse()
                    res.status = Translate.status(outcome.status)
                    res.exitCode = outcome.exit?.exitCode ?? 0
                    res.finishedAt = outcome.exit?.finishedAt ?? 0
                    return res
                })
            }
        }
    }

    static func checkpointOptions(_ req: Ocishim_V1_CheckpointRequest) throws(RPCError) -> CheckpointOptions {
        guard !req.imagePath.isEmpty else { throw RPCError(.invalidArgument, "Checkpoint needs an image path") }
        var o = CheckpointOptions(imagePath: req.imagePath)
        o.workPath = Translate.nonEmpty(req.workPath)
        o.leaveRunning = req.leaveRunning
        o.tcpEstablished = req.tcpEstablished
        o.fileLocks = req.fileLocks
        o.runtimeArgs = req.runtimeArgs
        return o
    }
}
