import Glibc

extension rusage {
    /// User plus system CPU time in seconds (ru_utime + ru_stime), as wait4
    /// and getrusage report it.
    public var cpuSeconds: Double {
        Double(ru_utime.tv_sec + ru_stime.tv_sec) + Double(ru_utime.tv_usec + ru_stime.tv_usec) / 1e6
    }
}
