import Glibc

/// Prints a line straight to fd 1: no stdio buffer, so the lines of a run
/// appear as they happen even through a pipe, and interleave correctly with
/// the output of the programs the suite runs.
func say(_ text: String = "") {
    var bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        offset += n
    }
}
