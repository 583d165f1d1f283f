import SystemPackage

extension TestSupport {
    /// A spawn's fd table from plain fd numbers (child number, this
    /// process's fd): the tests keep fds as numbers for their Glibc calls.
    static func fdTable(_ pairs: [(Int32, Int32)]) -> [(child: FileDescriptor, parent: FileDescriptor)] {
        pairs.map { (FileDescriptor(rawValue: $0.0), FileDescriptor(rawValue: $0.1)) }
    }
}
