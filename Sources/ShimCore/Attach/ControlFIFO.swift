import Glibc
import Logging
import ShimSystem
import SystemPackage

/// One of conmon's control FIFOs (`<bundle>/ctl`, `<bundle>/winsz`): the
/// engine writes lines, the shim acts on each one (ControlCommand). The
/// shim holds a writer of its own so the FIFO never reports hang-up when an
/// engine's writer closes. Lines longer than conmon's 200-byte buffer and
/// lines that do not parse are ignored with a message in the shim's log.
final class ControlFIFO {
    static let maxLine = 200

    let path: String
    private let readFD: FileDescriptor
    private let keepaliveFD: FileDescriptor
    private let loop: EventLoop
    private let log: Logger
    private let parse: (Substring) -> Result<ControlCommand, ControlLineError>
    private let handler: (ControlCommand) -> Void
    private var line: [UInt8] = []
    /// Inside a line that was too long: skip to its newline.
    private var skipping = false
    private var open = true

    init(path: String, parse: @escaping (Substring) -> Result<ControlCommand, ControlLineError>,
         loop: EventLoop, log: Logger, handler: @escaping (ControlCommand) -> Void) throws(CoreError) {
        self.path = path
        self.loop = loop
        self.log = log
        self.parse = parse
        self.handler = handler
        if mkfifo(path, 0o660) != 0 {
            guard errno == EEXIST, unlink(path) == 0 || errno == ENOENT, mkfifo(path, 0o660) == 0 else {
                throw .internal("cannot create the control FIFO \(path): \(SystemError("mkfifo"))")
            }
        }
        let reader = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard reader >= 0 else {
            let error = SystemError("open")
            unlink(path)
            throw .internal("cannot open the control FIFO \(path): \(error)")
        }
        readFD = FileDescriptor(rawValue: reader)
        let keepalive = Glibc.open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard keepalive >= 0 else {
            let error = SystemError("open")
            try? readFD.close()
            unlink(path)
            throw .internal("cannot open the control FIFO \(path) for writing: \(error)")
        }
        keepaliveFD = FileDescriptor(rawValue: keepalive)
        do {
            try loop.watch(readFD, .readable, readHangup: false) { [unowned self] _ in readLines() }
        } catch {
            try? readFD.close()
            try? keepaliveFD.close()
            unlink(path)
            throw .internal("cannot watch the control FIFO \(path): \(error)")
        }
    }

    private func readLines() {
        var buffer = [UInt8](repeating: 0, count: 512)
        for _ in 0..<16 {
            let n = buffer.withUnsafeMutableBytes { read(readFD.rawValue, $0.baseAddress, $0.count) }
            if n > 0 {
                consume(buffer[0..<n])
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return
        }
    }

    private func consume(_ bytes: ArraySlice<UInt8>) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if skipping {
                    skipping = false
                } else {
                    handle(line)
                }
                line.removeAll(keepingCapacity: true)
                continue
            }
            if skipping { continue }
            line.append(byte)
            if line.count >= Self.maxLine {
                log.warning("control FIFO \(path): a line is longer than \(Self.maxLine) bytes; ignored")
                line.removeAll(keepingCapacity: true)
                skipping = true
            }
        }
    }

    private func handle(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch parse(Substring(text)) {
        case .success(let command):
            log.debug("control FIFO \(path): \(text)")
            handler(command)
        case .failure(let error):
            log.warning("control FIFO \(path): \(error); line ignored")
        }
    }

    /// Stops reading and removes the FIFO (unless `keepingFile`).
    func close(keepingFile: Bool = false) {
        guard open else { return }
        open = false
        loop.unwatch(readFD)
        try? readFD.close()
        try? keepaliveFD.close()
        if !keepingFile { unlink(path) }
    }
}
