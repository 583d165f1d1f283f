import Glibc
import ShimSystem
import SystemPackage

/// conmon's control FIFOs, `<bundle>/ctl` and `<bundle>/winsz`, served
/// exactly as conmon 2.1.6's src/ctrl.c serves them, quirks included, since
/// engines and tests see every one of them:
///
/// - Both FIFOs share one 200-byte buffer (read_from_ctrl_buffer's static
///   buffer): each readiness reads once into it, after what an earlier read
///   left unfinished.
/// - For every newline in the buffer the line at the *start* of the buffer
///   is handled (conmon passes ctlbuf, not the current line): two resize
///   lines in one write resize twice to the first size.
/// - A line that does not parse ("Failed to sscanf message") ends the read:
///   the rest of that read is dropped.
/// - `ctl` lines are `TYPE HEIGHT WIDTH` parsed as sscanf's "%d %d %d":
///   type 1 writes "HEIGHT WIDTH\n" to `winsz`, type 2 reopens the log,
///   other types are warned about; `winsz` lines are "%d %d", and the sizes
///   go to the terminal as unsigned shorts. `winsz` is read only once the
///   container's terminal exists.
/// - 199 bytes without a newline: "Could not find newline in entire buffer",
///   and the next read starts over at the buffer's start.
///
/// The FIFOs stay in the bundle when the monitor exits, as conmon leaves them.
final class ConmonControl {
    static let bufferSize = 200

    let controlPath: String
    let windowSizePath: String
    private let loop: EventLoop
    private let controlRead: FileDescriptor
    /// conmon's dummy writer: no hang-up when the engine's writer closes.
    private let controlKeepalive: FileDescriptor
    private let windowSizeRead: FileDescriptor
    private let windowSizeWrite: FileDescriptor
    private var buffer = [UInt8](repeating: 0, count: ConmonControl.bufferSize)
    private var readOffset = 0
    private var readSize = ConmonControl.bufferSize - 1
    private var watchingWindowSize = false

    /// Resizes the terminal (rows, columns as conmon's ioctl gets them);
    /// throws when the ioctl fails.
    var resize: (UInt16, UInt16) throws -> Void = { _, _ in }
    /// Reopens (conmon: starts over) the log.
    var reopenLog: () -> Void = {}

    /// conmon's setup_terminal_control_fifo and setup_console_fifo, with
    /// their failures.
    init(bundle: String, loop: EventLoop) throws(ConmonFailure) {
        self.loop = loop
        controlPath = FileSystem.join(bundle, "ctl")
        windowSizePath = FileSystem.join(bundle, "winsz")
        (controlRead, controlKeepalive) = try Self.makeFIFO(controlPath, what: "terminal control fifo")
        (windowSizeRead, windowSizeWrite) = try Self.makeFIFO(windowSizePath, what: "window resize control fifo")
        _ = fcntl(windowSizeWrite.rawValue, F_SETFL, fcntl(windowSizeWrite.rawValue, F_GETFL) | O_NONBLOCK)
        ConmonLog.ndebugf("terminal_ctrl_fd: \(controlRead.rawValue)")
        do {
            try loop.watch(controlRead, .readable, readHangup: false) { [unowned self] _ in
                readLines(controlRead, handle: controlLine)
            }
        } catch {
            ConmonLog.pexit("Failed to watch the terminal control fifo", errno: EINVAL)
        }
    }

    private static func makeFIFO(_ path: String, what: String) throws(ConmonFailure) -> (read: FileDescriptor, write: FileDescriptor) {
        if mkfifo(path, 0o660) != 0 && errno == EEXIST {
            unlink(path)
            if mkfifo(path, 0o660) != 0 { throw .pexitf("Failed to mkfifo at \(path)") }
        }
        let read = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard read >= 0 else { throw .pexitf("Failed to open \(what) read half") }
        let write = open(path, O_WRONLY | O_CLOEXEC)
        guard write >= 0 else {
            close(read)
            throw .pexitf("Failed to open \(what) write half")
        }
        return (FileDescriptor(rawValue: read), FileDescriptor(rawValue: write))
    }

    /// The terminal exists: `winsz` is read from now on.
    func startWindowSize() {
        guard !watchingWindowSize else { return }
        watchingWindowSize = true
        try? loop.watch(windowSizeRead, .readable, readHangup: false) { [unowned self] _ in
            readLines(windowSizeRead, handle: windowSizeLine)
        }
    }

    /// No more lines (the process has ended); the FIFOs stay.
    func stop() {
        loop.unwatch(controlRead)
        if watchingWindowSize { loop.unwatch(windowSizeRead) }
        for fd in [controlRead, controlKeepalive, windowSizeRead, windowSizeWrite] { try? fd.close() }
    }

    // --- conmon's read_from_ctrl_buffer -------------------------------------------------

    private func readLines(_ fd: FileDescriptor, handle: ([UInt8]) -> Bool) {
        let n = buffer.withUnsafeMutableBytes { raw in
            read(fd.rawValue, raw.baseAddress! + readOffset, readSize)
        }
        guard n > 0 else {
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            ConmonLog.nwarnf("Failed to read from fd \(fd.rawValue)")
            return
        }
        buffer[readOffset + n] = 0
        let text = cString(from: 0)
        ConmonLog.ndebugf("Got ctl message: \(String(decoding: text, as: UTF8.self)) on fd \(fd.rawValue)")
        var begin = 0
        var newline = strchrnul(begin)
        while buffer[newline] != 0 {
            if !handle(cString(from: 0)) { return }
            begin = newline + 1
            newline = strchrnul(begin)
        }
        if n == Self.bufferSize - 1 && begin == 0 {
            ConmonLog.nwarn("Could not find newline in entire buffer")
        } else if buffer[begin] == 0 {
            readOffset = 0
            readSize = Self.bufferSize - 1
        } else {
            let rest = cString(from: begin)
            buffer.replaceSubrange(0..<rest.count, with: rest)
            readOffset = rest.count
            readSize = Self.bufferSize - 1 - rest.count
        }
    }

    private func strchrnul(_ from: Int) -> Int {
        var i = from
        while buffer[i] != 0 && buffer[i] != UInt8(ascii: "\n") { i += 1 }
        return i
    }

    private func cString(from start: Int) -> [UInt8] {
        var end = start
        while buffer[end] != 0 { end += 1 }
        return Array(buffer[start..<end])
    }

    /// process_terminal_ctrl_line
    private func controlLine(_ line: [UInt8]) -> Bool {
        let (count, values) = Self.scanIntegers(line, count: 3)
        guard count == 3 else {
            ConmonLog.nwarn("Failed to sscanf message")
            return false
        }
        ConmonLog.ndebugf("Message type: \(values[0])")
        switch values[0] {
        case 1:
            let text = Array("\(values[1]) \(values[2])\n".utf8)
            let n = text.withUnsafeBytes { write(windowSizeWrite.rawValue, $0.baseAddress, $0.count) }
            if n < 0 {
                ConmonLog.nwarn("Failed to write to window resizing fd. A resize event may have been dropped")
                return false
            }
        case 2:
            reopenLog()
        default:
            ConmonLog.nwarnf("Unknown message type: \(values[0])")
        }
        return true
    }

    /// process_winsz_ctrl_line
    private func windowSizeLine(_ line: [UInt8]) -> Bool {
        let (count, values) = Self.scanIntegers(line, count: 2)
        ConmonLog.ndebugf("Height: \(values[0]), Width: \(values[1])")
        guard count == 2 else {
            ConmonLog.nwarn("Failed to sscanf message")
            return false
        }
        do {
            try resize(UInt16(truncatingIfNeeded: values[0]), UInt16(truncatingIfNeeded: values[1]))
        } catch {
            ConmonLog.pwarn("Failed to set process pty terminal size", errno: ENOTTY)
        }
        return true
    }

    /// sscanf(line, "%d %d ...") as glibc does it: each %d skips blanks,
    /// takes an optional sign and decimal digits (an overflowing value is
    /// strtol's clamp cut to int); the count of conversions, or -1 when the
    /// input ends before the first. Unset values are 0.
    static func scanIntegers(_ line: [UInt8], count: Int) -> (Int, [Int32]) {
        var values = [Int32](repeating: 0, count: count)
        var position = 0
        for index in 0..<count {
            while position < line.count, CNumber.isSpace(line[position]) { position += 1 }
            if position >= line.count { return (index == 0 ? -1 : index, values) }
            guard let parsed = CNumber.strtol(line, from: position, base: 10) else { return (index, values) }
            values[index] = Int32(truncatingIfNeeded: parsed.value)
            position = parsed.end
        }
        return (count, values)
    }
}
