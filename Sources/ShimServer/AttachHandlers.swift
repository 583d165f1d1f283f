import Logging
import ShimCore
import ShimProtocol

/// Attach and AttachResize: the attach stream translates frames to an
/// AttachSession of the core and back.
final class AttachHandlers {
    private let core: RuntimeCore
    private let log: Logger

    init(core: RuntimeCore, log: Logger) {
        self.core = core
        self.log = log
    }

    func register(on router: RPCRouter) {
        router.bidirectional("Attach") { [core, log] (first: Ocishim_V1_AttachInput, out: Outbound<Ocishim_V1_AttachOutput>) in
            let request: AttachRequest
            do throws(RPCError) { request = try Translate.attachRequest(first.options) } catch { return out.fail(error) }
            let client = RPCAttachClient(out: out, log: log)
            let session: AttachSession?
            if first.options.hasExec {
                var exec: ExecOptions
                do throws(RPCError) { exec = try Translate.execOptions(first.options.exec) } catch { return out.fail(error) }
                if exec.execID.isEmpty { exec.execID = first.options.execID }
                guard first.options.execID.isEmpty || first.options.execID == exec.execID else {
                    return out.fail(RPCError(.invalidArgument,
                        "options.exec_id \(first.options.execID) and options.exec.exec_id \(exec.execID) differ"))
                }
                var attachRequest = request
                attachRequest.execID = exec.execID
                session = core.exec(exec, attach: (client, attachRequest)) { started in
                    if case .failure(let error) = started { client.fail(RPCError(error)) }
                }
            } else {
                switch core.attach(request, client: client) {
                case .failure(let error): return out.fail(RPCError(error))
                case .success(let s): session = s
                }
            }
            guard let session, !out.call.isFinished else { return }
            client.session = session
            client.handle(first)
            out.call.onData = { [weak client] bytes in client?.input(bytes) }
            out.call.onInputClosed = { [weak client] in client?.session?.closeStdin() }
            out.call.onCancel = { [weak client] in client?.session?.end() }
        }

        router.unary("AttachResize") { [core] (req: Ocishim_V1_ResizeRequest, reply: Reply<Ocishim_V1_ResizeResponse>) in
            do throws(RPCError) {
                let (rows, columns) = try Translate.terminalSize(height: req.height, width: req.width)
                do throws(CoreError) { try core.resize(rows: rows, columns: columns) } catch { throw RPCError(error) }
                reply.ok(Ocishim_V1_ResizeResponse())
            } catch {
                reply.fail(error)
            }
        }
    }
}

/// One Attach call as an attach client of the core: output becomes
/// AttachOutput frames. A client that does not read its frames may hold up
/// to `pendingLimit` bytes in its connection; past that the attach ends with
/// RESOURCE_EXHAUSTED (the container is not held up, and the shim's memory
/// does not grow without bound).
final class RPCAttachClient: AttachClient {
    static let pendingLimit = 8 << 20

    let out: Outbound<Ocishim_V1_AttachOutput>
    let log: Logger
    var session: AttachSession?

    init(out: Outbound<Ocishim_V1_AttachOutput>, log: Logger) {
        self.out = out
        self.log = log
    }

    func attachOutput(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        guard !out.call.isFinished else { return }
        var message = Ocishim_V1_AttachOutput()
        message.stream = stream == .stdout ? .stdout : .stderr
        message.data = .init(chunk)
        out.send(message)
        let pending = out.call.pendingOutput
        if pending > Self.pendingLimit {
            log.warning("\(out.call.label): the client is not reading its attach output (\(pending) bytes pending); detaching it")
            fail(RPCError(.resourceExhausted,
                "attach client is not reading its output: \(pending) bytes pending (limit \(Self.pendingLimit)); detached"))
        }
    }

    func attachDropped(_ bytes: UInt64) {
        guard !out.call.isFinished else { return }
        out.send(.with { $0.dropped = bytes })
    }

    func attachEnded(exitCode: Int32) {
        guard !out.call.isFinished else { return }
        out.send(.with {
            $0.exited = true
            $0.exitCode = exitCode
        })
        out.finish()
    }

    /// Ends the call with an error; the process is untouched.
    func fail(_ error: RPCError) {
        session?.end()
        out.fail(error)
    }

    /// A later AttachInput message.
    func input(_ bytes: [UInt8]) {
        guard !out.call.isFinished else { return }
        let message: Ocishim_V1_AttachInput
        do {
            message = try Ocishim_V1_AttachInput(serializedBytes: bytes)
        } catch {
            return fail(RPCError(.invalidArgument, "unmarshal AttachInput: \(error)"))
        }
        if message.hasOptions {
            return fail(RPCError(.invalidArgument, "AttachInput.options belongs in the first message only"))
        }
        handle(message)
    }

    /// stdin, then a resize, then close_stdin, as one message may carry all.
    func handle(_ message: Ocishim_V1_AttachInput) {
        guard let session, !out.call.isFinished else { return }
        if !message.stdin.isEmpty {
            switch session.input(message.stdin) {
            case .forwarded, .ignored:
                break
            case .detached:
                out.send(.with { $0.detached = true })
                out.finish()
                return
            case .overloaded(let why):
                return fail(RPCError(.resourceExhausted, why))
            }
        }
        if message.hasResize {
            do throws(RPCError) {
                let (rows, columns) = try Translate.terminalSize(height: message.resize.height, width: message.resize.width)
                do throws(CoreError) { try session.resize(rows: rows, columns: columns) } catch { throw RPCError(error) }
            } catch {
                log.debug("\(out.call.label): resize ignored: \(error.message)")
            }
        }
        if message.closeStdin { session.closeStdin() }
    }
}
