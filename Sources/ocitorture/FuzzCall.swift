import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// What became of one call made with hand-built bytes.
enum CallOutcome {
    /// A response frame: OK or an error status.
    case answered(code: Int32, message: String)
    /// A stream that sent data and is still open when the wait ended.
    case streaming(frames: Int)
    /// No answer within the bound, but the shim answers State on another
    /// connection: the call waits for something by design (Wait, a Stop
    /// with a long timeout).
    case pending
    /// No answer, and the shim does not answer State either.
    case hung(String)
    /// The connection ended without an answer, the shim still alive.
    case closed
    /// The shim is gone.
    case died(String)

    var summary: String {
        switch self {
        case .answered(let code, let message):
            let name = RPCCode(rawValue: code)?.name ?? "code \(code)"
            return code == 0 ? "OK" : "\(name): \(message.count > 120 ? String(message.prefix(120)) + "..." : message)"
        case .streaming(let n): return "stream open (\(n) data frames)"
        case .pending: return "no answer yet (the shim answers State meanwhile)"
        case .hung(let where_): return "no answer, and the shim does not answer State: \(where_)"
        case .closed: return "the connection closed without an answer"
        case .died(let how): return "the shim died: \(how)"
        }
    }
}

enum FuzzCall {
    /// Sends `payload` as `method`'s request (and `follow` as a data frame
    /// on its stream) on a fresh socket connection, waits up to `bound`
    /// seconds for the answer (0.3 s for streams), and finds out why there
    /// was none.
    static func call(_ shim: ShimUnderTest, method: String, kind: MethodKind, payload: [UInt8],
                     timeoutNanos: Int64 = 0, follow: [UInt8]? = nil, bound: Double) -> CallOutcome {
        guard let client = try? shim.connect(timeoutSeconds: bound) else { return lost(shim) }
        defer { client.close() }
        let id: UInt32
        do {
            id = try client.sendRequest(method, payload: payload, flags: kind.requestFlagsForFuzz, timeoutNanos: timeoutNanos)
            if let follow { try client.connection.send(Frame(streamID: id, type: .data, payload: follow)) }
        } catch {
            return lost(shim)
        }
        // A stream that has not ended by now is open by design.
        let wait = kind == .unary ? bound : min(bound, 0.3)
        let deadline = Clock.monotonicNanos() + Int64(wait * 1e9)
        var dataFrames = 0
        while true {
            let left = (deadline - Clock.monotonicNanos()) / 1_000_000
            if left <= 0 { break }
            let frame: Frame?
            do { frame = try client.connection.receive(timeoutMillis: Int32(clamping: left)) } catch {
                if case .timedOut = error { break }
                return lost(shim)
            }
            guard let frame else { return lost(shim) }
            guard frame.streamID == id else { continue }
            if frame.type == .response {
                guard let response = try? Ttrpc_Response(serializedBytes: frame.payload) else {
                    return .answered(code: -1, message: "an undecodable response")
                }
                return .answered(code: response.status.code, message: response.status.message)
            }
            if frame.type == .data {
                dataFrames += 1
                if frame.flags.contains(.remoteClosed) { return .answered(code: 0, message: "stream ended") }
            }
        }
        if !shim.isAlive { return .died(shim.describeEnd()) }
        if dataFrames > 0 { return .streaming(frames: dataFrames) }
        switch shim.state(within: 3) {
        case .success: return .pending
        case .failure:
            // A shim that is crashing stops answering too: give it the time
            // its backtrace takes before calling it hung.
            if shim.lab.reaper.wait(shim.pid, seconds: 3) != nil { return .died(shim.describeEnd()) }
            return .hung(ProcInfo.whereBlocked(shim.pid))
        }
    }

    /// The connection went away: the shim died, or it closed on us.
    private static func lost(_ shim: ShimUnderTest) -> CallOutcome {
        if shim.lab.reaper.wait(shim.pid, seconds: 2) != nil { return .died(shim.describeEnd()) }
        return .closed
    }
}

extension MethodKind {
    var requestFlagsForFuzz: FrameFlags {
        switch self {
        case .unary: []
        case .serverStream: .remoteClosed
        case .bidirectional: .remoteOpen
        }
    }
}
