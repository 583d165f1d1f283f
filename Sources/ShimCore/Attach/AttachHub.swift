import Logging
import ShimSystem

/// One process's stdio as attach clients see it: its output fanned out to
/// every client, their input to its stdin, resizes to its terminal.
///
/// Output is never held up by a client: each client buffers (within its own
/// bound) or is dropped. An exec session keeps output while nobody is
/// attached in a small backlog for the next client; a container does not
/// (its log has it).
final class AttachHub {
    let label: String
    let terminal: Bool
    /// The client's end of input (half-close, close_stdin, socket EOF)
    /// closes the process's stdin, unless it was created to stay open.
    let closeStdinOnClientEOF: Bool
    let stdin: StdinWriter?
    private let log: Logger
    private var clients: [Int: AttachClient] = [:]
    private var nextToken = 0
    private var backlog: OutputBacklog?
    private(set) var exitCode: Int32?
    /// Applies a terminal size (the owner knows the terminal).
    var resizer: ((UInt16, UInt16) throws(CoreError) -> Void)?
    /// Called with the exit, after the clients were told (attach sockets stop accepting).
    var onEnded: [(Int32) -> Void] = []

    /// The default backlog of an exec session: small, it is per session.
    static let execBacklogCapacity = 64 << 10

    init(label: String, terminal: Bool, stdin: Bool, closeStdinOnClientEOF: Bool,
         backlogCapacity: Int?, loop: EventLoop, log: Logger) {
        self.label = label
        self.terminal = terminal
        self.closeStdinOnClientEOF = closeStdinOnClientEOF
        self.log = log
        self.stdin = stdin ? StdinWriter(loop: loop, log: log, label: label) : nil
        self.backlog = backlogCapacity.map { OutputBacklog(capacity: $0) }
    }

    var clientCount: Int { clients.count }
    var hasEnded: Bool { exitCode != nil }

    /// Adds a client; it first gets the backlog, if any. A client added
    /// after the exit gets the backlog and the end at once.
    func add(_ client: AttachClient) -> Int {
        nextToken += 1
        let token = nextToken
        if var kept = backlog, !kept.isEmpty {
            let (chunks, dropped) = kept.take()
            backlog = kept
            if dropped > 0 { client.attachDropped(dropped) }
            for chunk in chunks {
                chunk.bytes.withUnsafeBytes { client.attachOutput(chunk.stream, $0) }
            }
        }
        if let exitCode {
            client.attachEnded(exitCode: exitCode)
            return token
        }
        clients[token] = client
        return token
    }

    func remove(_ token: Int) {
        clients[token] = nil
    }

    /// A chunk of the process's output.
    func output(_ stream: LogStream, _ chunk: UnsafeRawBufferPointer) {
        if clients.isEmpty {
            backlog?.append(stream, chunk)
            return
        }
        for client in Array(clients.values) { client.attachOutput(stream, chunk) }
    }

    /// The process exited and its output was drained: clients are told and
    /// released; stdin closes.
    func ended(exitCode code: Int32) {
        guard exitCode == nil else { return }
        exitCode = code
        stdin?.stop()
        let current = clients
        clients = [:]
        for (_, client) in current.sorted(by: { $0.key < $1.key }) { client.attachEnded(exitCode: code) }
        let hooks = onEnded
        onEnded = []
        for hook in hooks { hook(code) }
    }

    // --- input ------------------------------------------------------------------

    var acceptsStdin: Bool { stdin?.acceptsInput ?? false }

    /// A client ended its input.
    func clientClosedStdin() {
        guard let stdin, stdin.acceptsInput else { return }
        if closeStdinOnClientEOF {
            log.debug("\(label): an attach client closed its input; closing stdin")
            stdin.close()
        } else {
            log.debug("\(label): an attach client closed its input; stdin stays open (leave_stdin_open)")
        }
    }

    func resize(rows: UInt16, columns: UInt16) throws(CoreError) {
        guard terminal else { throw .precondition("\(label) has no terminal to resize") }
        guard exitCode == nil else { throw .precondition("\(label) has exited") }
        guard let resizer else { throw .precondition("\(label) has no terminal yet") }
        try resizer(rows, columns)
    }

    /// Stops everything (the process's stdio is being closed).
    func close() {
        stdin?.stop()
        clients = [:]
        backlog = nil
    }
}
