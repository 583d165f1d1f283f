/// One line of conmon's control FIFOs.
///
/// `<bundle>/ctl` takes `TYPE HEIGHT WIDTH`: type 1 resizes the terminal,
/// type 2 reopens the log (its sizes are read and ignored). `<bundle>/winsz`
/// takes `HEIGHT WIDTH`. Sizes are 0...1000 as conmon limits them; anything
/// else is rejected with the reason, which the FIFO reader logs.
public enum ControlCommand: Equatable, Sendable {
    case resize(rows: UInt16, columns: UInt16)
    case reopenLog

    /// conmon's WIN_RESIZE_EVENT and REOPEN_LOGS_EVENT.
    public static let resizeType = 1
    public static let reopenLogType = 2
    /// conmon rejects sizes outside 0...1000.
    public static let maxSize = 1000

    /// A `ctl` line, without its newline.
    public static func parseControl<S: StringProtocol>(_ line: S) -> Result<ControlCommand, ControlLineError> {
        let numbers: [Int]
        switch integers(line, count: 3) {
        case .success(let n): numbers = n
        case .failure(let e): return .failure(e)
        }
        guard numbers[0] == resizeType || numbers[0] == reopenLogType else {
            return .failure(ControlLineError("invalid control message type \(numbers[0]) (1 resizes, 2 reopens the log)"))
        }
        if let error = sizeError(numbers[1], numbers[2]) { return .failure(error) }
        return .success(numbers[0] == resizeType
            ? .resize(rows: UInt16(numbers[1]), columns: UInt16(numbers[2])) : .reopenLog)
    }

    /// A `winsz` line, without its newline.
    public static func parseWindowSize<S: StringProtocol>(_ line: S) -> Result<ControlCommand, ControlLineError> {
        switch integers(line, count: 2) {
        case .failure(let e): return .failure(e)
        case .success(let n):
            if let error = sizeError(n[0], n[1]) { return .failure(error) }
            return .success(.resize(rows: UInt16(n[0]), columns: UInt16(n[1])))
        }
    }

    private static func sizeError(_ height: Int, _ width: Int) -> ControlLineError? {
        guard (0...maxSize).contains(height), (0...maxSize).contains(width) else {
            return ControlLineError("invalid window size \(height)x\(width) (must be between 0 and \(maxSize))")
        }
        return nil
    }

    /// Exactly `count` decimal integers separated by blanks.
    private static func integers<S: StringProtocol>(_ line: S, count: Int) -> Result<[Int], ControlLineError> {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        let values = fields.compactMap { field in field.count <= 9 ? Int(field) : nil }
        guard fields.count == count, values.count == count else {
            return .failure(ControlLineError("malformed control line \"\(line.prefix(80))\" (want \(count) integers)"))
        }
        return .success(values)
    }
}

public struct ControlLineError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
