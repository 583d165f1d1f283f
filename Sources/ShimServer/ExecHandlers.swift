import ShimCore
import ShimProtocol

/// Exec, ExecResize, ExecStop, ExecState, ExecCleanup, ExecSync.
final class ExecHandlers {
    private let core: RuntimeCore

    init(core: RuntimeCore) {
        self.core = core
    }

    func register(on router: RPCRouter) {
        router.unary("Exec") { [core] (req: Ocishim_V1_ExecRequest, reply: Reply<Ocishim_V1_ExecResponse>) in
            let options: ExecOptions
            do throws(RPCError) { options = try Translate.execOptions(req) } catch { return reply.fail(error) }
            guard !options.execID.isEmpty else {
                return reply.fail(RPCError(.invalidArgument, "must provide a session ID for exec"))
            }
            _ = core.exec(options) { result in
                reply(result.rpc.map { pid in .with { $0.pid = pid } })
            }
        }

        router.unary("ExecResize") { [core] (req: Ocishim_V1_ExecResizeRequest, reply: Reply<Ocishim_V1_ExecResizeResponse>) in
            do throws(RPCError) {
                let (rows, columns) = try Translate.terminalSize(height: req.height, width: req.width)
                do throws(CoreError) { try core.resize(execID: req.execID, rows: rows, columns: columns) } catch { throw RPCError(error) }
                reply.ok(Ocishim_V1_ExecResizeResponse())
            } catch {
                reply.fail(error)
            }
        }

        router.unary("ExecStop") { [core] (req: Ocishim_V1_ExecStopRequest, reply: Reply<Ocishim_V1_ExecStopResponse>) in
            core.stop(execID: req.execID, timeoutSeconds: req.timeoutSeconds, signal: 0, all: false) { result in
                reply(result.rpc.map { stopped in .with { $0.exitCode = stopped.0.exitCode } })
            }
        }

        router.unary("ExecState") { [core] (req: Ocishim_V1_ExecStateRequest, reply: Reply<Ocishim_V1_ExecStateResponse>) in
            reply(core.execState(req.execID).rpc.map { s in
                .with {
                    $0.execID = s.execID
                    $0.running = s.running
                    $0.pid = s.pid
                    $0.exitCode = s.exitCode ?? 0
                    $0.startedAt = s.startedAt
                    $0.finishedAt = s.finishedAt
                    $0.terminal = s.terminal
                    $0.stdin = s.stdin
                }
            })
        }

        router.unary("ExecCleanup") { [core] (req: Ocishim_V1_ExecCleanupRequest, reply: Reply<Ocishim_V1_ExecCleanupResponse>) in
            do throws(CoreError) {
                try core.removeExec(req.execID)
                reply.ok(Ocishim_V1_ExecCleanupResponse())
            } catch {
                reply.fail(RPCError(error))
            }
        }

        router.unary("ExecSync") { [core] (req: Ocishim_V1_ExecSyncRequest, reply: Reply<Ocishim_V1_ExecSyncResponse>) in
            let options: ExecOptions
            do throws(RPCError) { options = try Translate.execOptions(req.exec) } catch { return reply.fail(error) }
            let cancel = core.execSync(options, timeoutSeconds: req.timeoutSeconds, maxOutputBytes: Int(req.maxOutputBytes)) { result in
                reply(result.rpc.map(ExecSyncAnswer.response))
            }
            if !reply.isFinished { reply.call.onCancel = cancel }
        }
    }
}

/// ExecSync's answer is one ttrpc message: at most 4 MiB with its envelope.
/// Output the core captured (up to 16 MiB per stream) is cut to fit,
/// keeping the start of each stream, and reported as truncated.
enum ExecSyncAnswer {
    /// Room for the two streams' bytes in one frame; the rest of the frame
    /// is left for the envelope and the other fields.
    static let outputBudget = FrameHeader.maxDataLength - 4096

    /// How many bytes of each stream fit in `budget`: each gets at least
    /// half, and what one does not need goes to the other.
    static func fit(stdout: Int, stderr: Int, budget: Int = outputBudget) -> (stdout: Int, stderr: Int) {
        if stdout + stderr <= budget { return (stdout, stderr) }
        let half = budget / 2
        if stdout <= half { return (stdout, budget - stdout) }
        if stderr <= half { return (budget - stderr, stderr) }
        return (half, budget - half)
    }

    static func response(_ r: ExecSyncResult) -> Ocishim_V1_ExecSyncResponse {
        let (out, err) = fit(stdout: r.stdout.count, stderr: r.stderr.count)
        var res = Ocishim_V1_ExecSyncResponse()
        res.exitCode = r.exitCode
        res.stdout = .init(r.stdout.prefix(out))
        res.stderr = .init(r.stderr.prefix(err))
        res.stdoutBytes = r.stdoutBytes
        res.stderrBytes = r.stderrBytes
        res.stdoutTruncated = r.stdoutBytes > UInt64(out)
        res.stderrTruncated = r.stderrBytes > UInt64(err)
        res.timedOut = r.timedOut
        return res
    }
}
