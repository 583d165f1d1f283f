import Glibc
import ShimSystem
import SystemPackage

/// Moves one output fd of the container into the shim: large reads into the
/// shared scratch buffer, each chunk handed on at once (log, attach clients).
/// The fd belongs to ContainerIO, which closes it.
final class OutputPump {
    let fd: FileDescriptor
    let stream: LogStream
    private let loop: EventLoop
    private let scratch: ScratchBuffer
    private let sink: (LogStream, UnsafeRawBufferPointer) -> Void
    private var finished: (() -> Void)?
    /// A read failed (not EAGAIN/EINTR): its errno, just before the end.
    var readFailed: ((Int32) -> Void)?
    private var active = false
    /// Not watched while its output has nowhere to go (`pause`).
    private(set) var paused = false

    init(fd: FileDescriptor, stream: LogStream, loop: EventLoop, scratch: ScratchBuffer,
         sink: @escaping (LogStream, UnsafeRawBufferPointer) -> Void, finished: @escaping () -> Void) {
        self.fd = fd
        self.stream = stream
        self.loop = loop
        self.scratch = scratch
        self.sink = sink
        self.finished = finished
    }

    func start() {
        _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) | O_NONBLOCK)
        do {
            try loop.watch(fd, .readable) { [unowned self] _ in self.pump(maxReads: 16) }
            active = true
        } catch {
            end()
        }
    }

    /// Reads until the fd is empty (paused or not: the process has ended
    /// and what it wrote must be taken now).
    func drain() { pump(maxReads: Int.max, evenIfPaused: true) }

    /// Stops reading until `resume`: the process's writes then fill the
    /// pipe and it waits, as a process writing to a slow reader does.
    func pause() {
        guard active, !paused else { return }
        paused = true
        loop.unwatch(fd)
    }

    func resume() {
        guard active, paused else { return }
        paused = false
        do {
            try loop.watch(fd, .readable) { [unowned self] _ in self.pump(maxReads: 16) }
        } catch {
            return end()
        }
        pump(maxReads: 16)
    }

    /// Up to `maxReads` reads, so one chatty container cannot starve the
    /// loop's other work.
    private func pump(maxReads: Int, evenIfPaused: Bool = false) {
        guard active else { return }
        let buffer = scratch.bytes
        var reads = 0
        // A chunk handed on may pause the pump: no further read then.
        while reads < maxReads && (evenIfPaused || !paused) {
            reads += 1
            let n = read(fd.rawValue, buffer.baseAddress, buffer.count)
            if n > 0 {
                sink(stream, UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return }
            // EOF, or EIO from a pty whose last slave fd closed.
            if n < 0 { readFailed?(errno) }
            end()
            return
        }
    }

    /// Stops reading; the fd itself belongs to ContainerIO.
    func stop() {
        finished = nil
        guard active else { return }
        active = false
        paused = false
        loop.unwatch(fd)
    }

    private func end() {
        let done = finished
        finished = nil
        if active {
            active = false
            paused = false
            loop.unwatch(fd)
        }
        done?()
    }
}
