import Glibc
import ShimSystem
import SystemPackage
import XCTest
@testable import ShimCore

/// RelayedStdio: the container's stdio copied to and from fds the engine
/// opened (containerd's FIFOs), in-process on the fake runtime: output
/// relayed losslessly with the container held up while the reader is
/// behind, EOF after the last byte, stdin ending only after the engine's
/// data, and fds closed when Create is refused.
final class StdioRelayTests: XCTestCase {
    private func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw SystemError("pipe") }
        return (fds[0], fds[1])
    }

    private func setNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Everything readable now; `eof` when the writers are all gone.
    private func readAvailable(_ fd: Int32) -> (bytes: [UInt8], eof: Bool) {
        setNonBlocking(fd)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { out += buffer[0..<n]; continue }
            return (out, n == 0)
        }
    }

    private func write(_ fd: Int32, _ text: String) {
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
    }

    private func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) >= 0 }

    func testOutputReachesTheEnginesFDAndItsReaderSeesEOFAfterTheLastByte() throws {
        let shim = try InProcessShim()
        let out = try pipe()
        defer { close(out.read) }
        var options = shim.createOptions()
        options.relayedStdio = RelayedStdio(stdout: FileDescriptor(rawValue: out.write))
        options.attachSocket = false
        options.controlFIFOs = false
        _ = try XCTUnwrap(shim.result { done in shim.core.create(options, done) }).get()
        _ = try XCTUnwrap(shim.result { done in shim.core.start(done) }).get()
        let containerStdout = try XCTUnwrap(shim.runtime.containerStdout["c1"])

        write(containerStdout, "hello\n")
        shim.settle()
        var got = readAvailable(out.read)
        XCTAssertEqual(String(decoding: got.bytes, as: UTF8.self), "hello\n")
        XCTAssertFalse(got.eof, "the relay holds its fd while the container's output is open")

        write(containerStdout, "last words")
        shim.runtime.closeContainerStdout("c1")
        shim.settle()
        got = readAvailable(out.read)
        XCTAssertEqual(String(decoding: got.bytes, as: UTF8.self), "last words")
        XCTAssertTrue(got.eof, "the container's output ended: so does the engine's copy")
        XCTAssertFalse(FileSystem.exists(shim.bundle + "/attach"), "no attach socket was asked for")
    }

    func testASlowReaderHoldsTheContainerUpAndLosesNothing() throws {
        let shim = try InProcessShim()
        let out = try pipe()
        defer { close(out.read) }
        var options = shim.createOptions()
        options.relayedStdio = RelayedStdio(stdout: FileDescriptor(rawValue: out.write))
        _ = try XCTUnwrap(shim.result { done in shim.core.create(options, done) }).get()
        _ = try XCTUnwrap(shim.result { done in shim.core.start(done) }).get()
        let containerStdout = try XCTUnwrap(shim.runtime.containerStdout["c1"])
        setNonBlocking(containerStdout)

        // The container writes as fast as its pipe takes it; nobody reads
        // the engine's end.
        var chunk = [UInt8](repeating: 0, count: 65536)
        var written = 0
        var sum = 0
        func writeUntilFull() {
            while true {
                for i in 0..<chunk.count { chunk[i] = UInt8(truncatingIfNeeded: written + i) }
                let n = chunk.withUnsafeBytes { Glibc.write(containerStdout, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                for i in 0..<n { sum &+= Int(chunk[i]) }
                written += n
            }
        }
        for _ in 0..<40 {
            writeUntilFull()
            shim.settle()
        }
        // Held up: what waits in the shim stays near the pause threshold,
        // not the 40 pipes' worth the container would otherwise have
        // written (the container's pipe holds 1 MiB, the engine's 64 KiB).
        XCTAssertLessThan(written, StdioRelay.pauseThreshold + (1 << 20) + (1 << 20),
                          "the container was not held up: \(written) bytes written")

        // The reader catches up: everything arrives, in order, and the
        // container can write again.
        var received = 0
        var receivedSum = 0
        var expected = 0
        var ordered = true
        for _ in 0..<400 {
            let got = readAvailable(out.read)
            for byte in got.bytes {
                if byte != UInt8(truncatingIfNeeded: expected) { ordered = false }
                expected += 1
                receivedSum &+= Int(byte)
            }
            received += got.bytes.count
            shim.settle()
            if received == written { break }
        }
        XCTAssertEqual(received, written, "bytes lost or stuck")
        XCTAssertEqual(receivedSum, sum)
        XCTAssertTrue(ordered, "bytes out of order")
        let before = written
        writeUntilFull()
        XCTAssertGreaterThan(written, before, "the container writes again once the reader caught up")
    }

    /// A started container whose stdin is relayed from a pipe: the engine
    /// writes through `source`; the relay's hold is a second writer, as
    /// containerd's shims hold the stdin FIFO. `containerStdin`: what the
    /// container reads.
    private func startWithRelayedStdin(_ shim: InProcessShim) throws -> (source: Int32, containerStdin: Int32) {
        let source = try pipe()
        var options = shim.createOptions()
        options.stdin = true
        options.relayedStdio = RelayedStdio(stdin: FileDescriptor(rawValue: source.read), stdinHold: FileDescriptor(rawValue: dup(source.write)))
        _ = try XCTUnwrap(shim.result { done in shim.core.create(options, done) }).get()
        _ = try XCTUnwrap(shim.result { done in shim.core.start(done) }).get()
        return (source.write, try XCTUnwrap(shim.runtime.containerStdin["c1"]))
    }

    func testStdinEndsOnlyAfterTheEnginesDataOnceItSaysItIsDone() throws {
        let shim = try InProcessShim()
        let (source, containerStdin) = try startWithRelayedStdin(shim)

        write(source, "abc")
        shim.settle()
        var got = readAvailable(containerStdin)
        XCTAssertEqual(String(decoding: got.bytes, as: UTF8.self), "abc")

        // The engine's writer goes away: no EOF while the hold is there
        // (a detached engine's container keeps its stdin).
        write(source, "def")
        close(source)
        shim.settle()
        got = readAvailable(containerStdin)
        XCTAssertEqual(String(decoding: got.bytes, as: UTF8.self), "def")
        XCTAssertFalse(got.eof)

        // CloseIO: EOF follows the data.
        try shim.core.closeStdin()
        shim.settle()
        got = readAvailable(containerStdin)
        XCTAssertTrue(got.bytes.isEmpty)
        XCTAssertTrue(got.eof, "closeStdin with the engine's writer gone: the container sees EOF")
    }

    func testDataWrittenJustBeforeCloseStdinIsNotLost() throws {
        let shim = try InProcessShim()
        let (source, containerStdin) = try startWithRelayedStdin(shim)

        // ctr writes, closes its FIFO and calls CloseIO before the shim has
        // read anything.
        write(source, "all of it")
        close(source)
        try shim.core.closeStdin()
        shim.settle()
        let got = readAvailable(containerStdin)
        XCTAssertEqual(String(decoding: got.bytes, as: UTF8.self), "all of it")
        XCTAssertTrue(got.eof)
    }

    func testARefusedCreateClosesTheRelayedFDs() throws {
        let shim = try InProcessShim()
        let out = try pipe()
        let source = try pipe()
        defer {
            close(out.read)
            close(source.write)
        }
        var options = shim.createOptions()
        options.bundle = shim.dir + "/no-such-bundle"
        options.stdin = true
        let hold = dup(source.write)
        options.relayedStdio = RelayedStdio(stdin: FileDescriptor(rawValue: source.read), stdinHold: FileDescriptor(rawValue: hold), stdout: FileDescriptor(rawValue: out.write))
        let result = try XCTUnwrap(shim.result { done in shim.core.create(options, done) })
        XCTAssertNotNil(result.failure)
        for fd in [source.read, hold, out.write] {
            XCTAssertFalse(isOpen(fd), "fd \(fd) was left open")
        }
    }

    func testARuntimeFailureClosesTheRelayedFDs() throws {
        let shim = try InProcessShim()
        let out = try pipe()
        defer { close(out.read) }
        shim.runtime.failures["create"] = CoreError(.runtimeFailed, "no")
        var options = shim.createOptions()
        options.relayedStdio = RelayedStdio(stdout: FileDescriptor(rawValue: out.write))
        let result = try XCTUnwrap(shim.result { done in shim.core.create(options, done) })
        XCTAssertNotNil(result.failure)
        XCTAssertFalse(isOpen(out.write))
        XCTAssertTrue(readAvailable(out.read).eof, "the engine's reader sees EOF")
    }
}
