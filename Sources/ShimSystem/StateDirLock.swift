import Glibc
import SystemPackage

/// The lock a live shim holds on `<state-dir>/shim.lock` for its whole life.
///
/// It is an open file description lock (F_OFD_SETLK), not flock(2) or a
/// classic POSIX lock: it passes to the child of the shim's detaching fork
/// with the fd, and the kernel drops it when the last copy of the fd closes,
/// however the shim ends (SIGKILL included). So two shims never serve one
/// state dir, and a client tells a dead shim's leftovers from a live shim
/// that has not started listening yet. Clients only test it (F_OFD_GETLK):
/// looking never takes the lock, so `ocictl ps` cannot make a starting shim
/// believe its state dir is taken.
public enum StateDirLock {
    public static let fileName = "shim.lock"

    // asm-generic/fcntl.h, the same on every Linux architecture; Glibc
    // declares them only under _GNU_SOURCE, which Swift's Glibc module lacks.
    private static let getLock: Int32 = 36  // F_OFD_GETLK
    private static let setLock: Int32 = 37  // F_OFD_SETLK

    public static func path(stateDir: String) -> String { FileSystem.join(stateDir, fileName) }

    /// Takes the lock and returns the fd that holds it (close-on-exec; keep
    /// it open for the shim's life). nil: another process holds it. Creates
    /// the lock file if missing and writes nothing else.
    public static func acquire(stateDir: String) throws(SystemError) -> FileDescriptor? {
        let file = path(stateDir: stateDir)
        let fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("open \(file)") }
        var lock = Self.wholeFile(Int16(F_WRLCK))
        if fcntl(fd, setLock, &lock) == 0 { return FileDescriptor(rawValue: fd) }
        let failure = SystemError("lock \(file)")
        close(fd)
        if failure.errno == .resourceTemporarilyUnavailable || failure.errno == .permissionDenied { return nil }
        throw failure
    }

    /// Whether a live process holds the lock of `stateDir`. A missing lock
    /// file means no shim holds it.
    public static func isHeld(stateDir: String) -> Bool {
        let fd = open(path(stateDir: stateDir), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var lock = Self.wholeFile(Int16(F_WRLCK))
        guard fcntl(fd, getLock, &lock) == 0 else { return false }
        return lock.l_type != Int16(F_UNLCK)
    }

    private static func wholeFile(_ type: Int16) -> flock {
        var lock = flock()
        lock.l_type = type
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        lock.l_pid = 0  // required to be 0 for OFD locks
        return lock
    }
}
