import Glibc
import SystemPackage

/// A failed system call, with what was being attempted ("open /run/x").
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let errno: Errno

    public init(_ operation: String, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    /// Captures the calling thread's errno.
    public init(_ operation: String) {
        self.init(operation, errno: Errno(rawValue: Glibc.errno))
    }

    public var description: String { "\(operation): \(errno.description)" }
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
