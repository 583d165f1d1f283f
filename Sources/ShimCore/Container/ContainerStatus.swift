/// The container's lifecycle, as the monitor knows it (containerd's
/// pkg/process keeps the same explicit machine):
///
///     none -> created -> running <-> paused
///                 \          |
///                  +----> stopped -> deleted
public enum ContainerStatus: String, Sendable, Equatable {
    /// The shim runs; Create has not succeeded (yet).
    case none
    case created
    case running
    case paused
    /// Exited; the exit code is known.
    case stopped
    case deleted
}
