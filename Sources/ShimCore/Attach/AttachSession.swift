/// One client's attachment to a process: what it asked to see goes to it,
/// its input goes through the detach-key matcher to stdin. Ends when the
/// process exits (the client's `attachEnded`), when the detach keys are
/// typed, or when the client calls `end()`.
public final class AttachSession {
    private weak var hub: AttachHub?
    private var token = 0
    private let filter: StreamFilter
    private let wantsStdin: Bool
    private var matcher: DetachKeyMatcher
    public private(set) var isEnded = false

    init(hub: AttachHub, client: AttachClient, request: AttachRequest, detachKeys: DetachKeys) {
        self.hub = hub
        self.wantsStdin = request.stdin
        self.matcher = DetachKeyMatcher(keys: detachKeys)
        // A terminal has one stream; it is "stdout" whatever was asked.
        self.filter = StreamFilter(client: client, stdout: request.stdout || (hub.terminal && request.stderr),
                                   stderr: request.stderr && !hub.terminal)
        filter.session = self
    }

    /// Joins the hub (after the caller holds the session), after handing
    /// the client `replay` (earlier output read back from the log).
    func start(replay: [(stream: LogStream, bytes: [UInt8])] = []) {
        guard let hub else { return }
        for chunk in replay where !chunk.bytes.isEmpty {
            chunk.bytes.withUnsafeBytes { filter.attachOutput(chunk.stream, $0) }
        }
        token = hub.add(filter)
    }

    /// Client input (stdin bytes). The detach keys work whether or not
    /// the process takes input (a container without a stdin, or whose stdin
    /// was closed): only what would be forwarded is dropped.
    public func input<C: Collection>(_ bytes: C) -> AttachInputResult where C.Element == UInt8 {
        guard !isEnded, wantsStdin, let hub else { return .ignored }
        let (forward, detached) = matcher.feed(bytes)
        let stdin = hub.acceptsStdin ? hub.stdin : nil
        if let stdin, !forward.isEmpty && !stdin.write(forward) {
            if stdin.acceptsInput {
                return .overloaded("stdin of \(hub.label) is not being read: \(stdin.pendingBytes) bytes are waiting (limit \(StdinWriter.hardLimit))")
            }
        }
        if detached {
            end()
            return .detached
        }
        return stdin == nil ? .ignored : .forwarded
    }

    /// The client ended its input (half-close or close_stdin): stdin closes
    /// unless the process was created to keep it open. Bytes held back as a
    /// possible start of the detach keys are passed on first.
    public func closeStdin() {
        guard !isEnded, wantsStdin, let hub, let stdin = hub.stdin else { return }
        let held = matcher.flush()
        if !held.isEmpty { stdin.write(held) }
        hub.clientClosedStdin()
    }

    public func resize(rows: UInt16, columns: UInt16) throws(CoreError) {
        guard let hub else { throw .precondition("the process is gone") }
        try hub.resize(rows: rows, columns: columns)
    }

    /// Detaches; the process is untouched.
    public func end() {
        guard !isEnded else { return }
        isEnded = true
        hub?.remove(token)
    }

    fileprivate func endedByProcess() { isEnded = true }
}

/// Passes on what the client asked to see.
private final class StreamFilter: AttachClient {
    let client: AttachClient
    let stdout: Bool
    let stderr: Bool
    weak var session: AttachSession?

    init(client: AttachClient, stdout: Bool, stderr: Bool) {
        self.client = client
        self.stdout = stdout
        self.stderr = stderr
    }

    func attachOutput(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        if stream == .stdout ? stdout : stderr { client.attachOutput(stream, chunk) }
    }

    func attachDropped(_ bytes: UInt64) { client.attachDropped(bytes) }

    func attachEnded(exitCode: Int32) {
        session?.endedByProcess()
        client.attachEnded(exitCode: exitCode)
    }
}
