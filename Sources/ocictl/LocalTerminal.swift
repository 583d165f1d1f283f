import Glibc

/// A terminal in raw mode until `restore`.
final class RawTerminal {
    private let fd: Int32
    private var saved = termios()
    private var active = false

    init?(fd: Int32) {
        self.fd = fd
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        var raw = saved
        cfmakeraw(&raw)
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
        active = true
    }

    func restore() {
        guard active else { return }
        active = false
        _ = tcsetattr(fd, TCSANOW, &saved)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    }

    deinit { restore() }
}

/// A terminal kept in line mode (editing, echo, ctrl-c) for a process
/// without a terminal, with two changes so the detach keys work: the last
/// key of the sequence ends a line (VEOL), so the sequence is sent when it is
/// typed instead of at the next Enter, and flow control (IXON) is off, so
/// ctrl-q reaches ocictl instead of resuming output. Nothing changes when the
/// last key is not a control key, or is one the line discipline already
/// uses (ctrl-c, ctrl-d, ...).
final class LineTerminal {
    private let fd: Int32
    private var saved = termios()
    private var active = false

    init?(fd: Int32, detachKeys: [UInt8]) {
        self.fd = fd
        guard let last = detachKeys.last, last < 0x20 || last == 0x7f, tcgetattr(fd, &saved) == 0 else { return nil }
        var changed = saved
        let special: [Int32] = [VINTR, VQUIT, VERASE, VKILL, VEOF, VSUSP, VLNEXT, VWERASE, VREPRINT, VEOL2]
        let inUse = withUnsafeBytes(of: &changed.c_cc) { cc in special.contains { cc[Int($0)] == last } }
        guard !inUse else { return nil }
        withUnsafeMutableBytes(of: &changed.c_cc) { $0[Int(VEOL)] = last }
        changed.c_iflag &= ~tcflag_t(IXON)
        guard tcsetattr(fd, TCSANOW, &changed) == 0 else { return nil }
        active = true
    }

    func restore() {
        guard active else { return }
        active = false
        _ = tcsetattr(fd, TCSANOW, &saved)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    }

    deinit { restore() }
}
