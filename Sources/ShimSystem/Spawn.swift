import CShimSys
import Glibc
import SystemPackage

/// Starting programs with an exact fd table: the child gets the listed fds at
/// the listed numbers and nothing else (no shim fd leaks into a runtime or a
/// container), default signal handling, and optionally its own session.
public struct SpawnOptions {
    public var path: String
    public var arguments: [String]
    public var environment: [String]
    public var directory: String?
    /// child fd number -> parent fd
    public var fds: [(child: FileDescriptor, parent: FileDescriptor)] = []
    public var newSession = false
    public var newProcessGroup = false
    public var unshareSysKernel = false
    /// Set LISTEN_PID to the child's pid (socket activation).
    public var listenPidEnvironment = false
    /// SELinux exec label and the setter that applies it (libselinux's
    /// setexeccon, loaded at run time).
    public var execLabel: String?
    public var setExecCon: (@convention(c) (UnsafePointer<CChar>?) -> Int32)?

    public init(path: String, arguments: [String], environment: [String], directory: String? = nil) {
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
    }
}

extension SpawnOptions {
    /// An fd table from plain fd numbers (child number, this process's fd),
    /// for callers that keep their fds as numbers for their own Glibc calls
    /// (the tools and tests around the shim).
    public static func fdTable(_ pairs: [(child: Int32, parent: Int32)]) -> [(child: FileDescriptor, parent: FileDescriptor)] {
        pairs.map { (FileDescriptor(rawValue: $0.child), FileDescriptor(rawValue: $0.parent)) }
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let path: String
    public let step: String
    public let errno: Int32
    public var description: String {
        "cannot run \(path): \(step) failed: \(String(cString: strerror(errno)))"
    }
}

public enum Spawner {
    public static func spawn(_ options: SpawnOptions) throws(SpawnError) -> pid_t {
        var err: Int32 = 0
        var step: UnsafePointer<CChar>? = nil
        let pid: pid_t = withCStrings(options.arguments) { argv in
            withCStrings(options.environment) { envp in
                options.path.withCString { path in
                    withOptionalCString(options.directory) { cwd in
                        withOptionalCString(options.execLabel) { label in
                            // On the stack, not in an Array: an Array of an imported C
                            // struct makes the runtime create its metadata.
                            withUnsafeTemporaryAllocation(of: ocishim_fd_map.self, capacity: max(options.fds.count, 1)) { fds in
                                for (index, fd) in options.fds.enumerated() {
                                    (fds.baseAddress! + index).initialize(to: ocishim_fd_map(src: fd.parent.rawValue, dst: fd.child.rawValue))
                                }
                                var attr = ocishim_spawn_attr()
                                attr.path = path
                                attr.argv = argv
                                attr.envp = envp
                                attr.cwd = cwd
                                attr.fds = UnsafePointer(fds.baseAddress)
                                attr.nfds = Int32(options.fds.count)
                                attr.new_session = options.newSession ? 1 : 0
                                attr.new_pgroup = options.newProcessGroup ? 1 : 0
                                attr.unshare_sys_kernel = options.unshareSysKernel ? 1 : 0
                                attr.listen_pid_env = options.listenPidEnvironment ? 1 : 0
                                attr.exec_label = label
                                attr.setexeccon = options.setExecCon
                                return ocishim_spawn(&attr, &err, &step)
                            }
                        }
                    }
                }
            }
        }
        if pid < 0 {
            throw SpawnError(path: options.path, step: step.map { String(cString: $0) } ?? "spawn", errno: err)
        }
        return pid
    }
}

/// A NULL-terminated C string array for argv/envp.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// This process's environment as "KEY=VALUE" strings.
public enum ProcessEnvironment {
    public static func current() -> [String] {
        var out: [String] = []
        var p = environ
        while let entry = p.pointee {
            out.append(String(cString: entry))
            p += 1
        }
        return out
    }
}
