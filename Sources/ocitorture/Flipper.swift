import Foundation
import Glibc

/// Exchanges a file of the rootfs with a FIFO and with a symlink to a host
/// file in a tight loop (renameat2 RENAME_EXCHANGE: each name always
/// exists, one syscall a flip): regular, FIFO, regular, symlink, ...
final class Flipper: @unchecked Sendable {
    let target, fifo, link, hostFile: String
    private let lock = NSLock()
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)
    private var running = false
    private(set) var flips = 0

    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32
    /// glibc's renameat2, which Swift's Glibc module does not declare.
    private static let renameat2: RenameAt2? = dlsym(dlopen(nil, RTLD_NOW), "renameat2").map { unsafeBitCast($0, to: RenameAt2.self) }
    private static let exchange: UInt32 = 2  // RENAME_EXCHANGE

    init(target: String, fifo: String, link: String, hostFile: String) {
        self.target = target
        self.fifo = fifo
        self.link = link
        self.hostFile = hostFile
    }

    func prepare() throws {
        guard Self.renameat2 != nil else { throw TortureError("renameat2 is not in this libc") }
        guard mkfifo(fifo, 0o644) == 0, symlink(hostFile, link) == 0 else {
            throw TortureError("cannot prepare \(target): \(String(cString: strerror(errno)))")
        }
    }

    func start() {
        running = true
        let swap = Self.renameat2!
        Thread { [self] in
            var n = 0
            while !isStopping {
                for _ in 0..<64 {
                    _ = swap(AT_FDCWD, target, AT_FDCWD, fifo, Self.exchange)
                    _ = swap(AT_FDCWD, target, AT_FDCWD, fifo, Self.exchange)
                    _ = swap(AT_FDCWD, target, AT_FDCWD, link, Self.exchange)
                    _ = swap(AT_FDCWD, target, AT_FDCWD, link, Self.exchange)
                }
                n += 256
            }
            lock.lock(); flips = n; lock.unlock()
            done.signal()
        }.start()
    }

    private var isStopping: Bool {
        lock.lock(); defer { lock.unlock() }
        return stopping
    }

    func stop() {
        lock.lock()
        let wasRunning = running && !stopping
        stopping = true
        lock.unlock()
        if wasRunning { done.wait() }
    }
}
