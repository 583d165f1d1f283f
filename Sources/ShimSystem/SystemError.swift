import Glibc
import SystemPackage

/// A failed system call, with what was being attempted ("open /run/x").
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let errno: Errno
    /// Said instead of errno's text where the call itself succeeded but what
    /// it found is refused ("not a regular file").
    public let reason: String?

    public init(_ operation: String, errno: Errno, reason: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.reason = reason
    }

    /// Captures the calling thread's errno.
    public init(_ operation: String) {
        self.init(operation, errno: Errno(rawValue: Glibc.errno))
    }

    public var description: String { "\(operation): \(reason ?? errno.description)" }
}

/// Retries a call interrupted by a signal; throws on -1.
@discardableResult
public func sysCall<T: FixedWidthInteger>(_ operation: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        if Glibc.errno == EINTR { continue }
        throw SystemError(operation())
    }
}
