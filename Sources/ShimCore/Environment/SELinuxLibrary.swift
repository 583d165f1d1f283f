import Glibc
import ShimSystem

/// The few libselinux functions the shim needs, opened with dlopen.
///
/// Why not link libselinux: every shared library a process maps costs private
/// dirty pages (relocations, GOT, its own data), and there is one shim per
/// container, so that cost multiplies by the container count. libselinux also
/// pulls in libpcre2 and runs a constructor that scans /proc/mounts. On most
/// hosts SELinux is off and none of that buys anything, so the library is only
/// loaded when the kernel could have SELinux at all, and a missing library
/// means "SELinux disabled", as it would for a shim built without it.
struct SELinuxLibrary: @unchecked Sendable {
    // @unchecked: the fields are immutable C function pointers into a library
    // that is never unloaded; calling them from any thread is what libselinux
    // itself allows (the labels they set are per thread).
    typealias IsEnabledFunction = @convention(c) () -> Int32
    typealias GetConFunction = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32
    typealias FreeConFunction = @convention(c) (UnsafeMutablePointer<CChar>?) -> Void
    typealias SetConFunction = @convention(c) (UnsafePointer<CChar>?) -> Int32

    /// The soname: the unversioned libselinux.so only exists with the -dev package.
    static let soname = "libselinux.so.1"

    let isSELinuxEnabled: IsEnabledFunction
    let getcon: GetConFunction
    let freecon: FreeConFunction
    let setexeccon: SetConFunction
    let setsockcreatecon: SetConFunction

    /// Opens the library and resolves every function; nil when the library or
    /// any of the functions is missing (a partial libselinux is no libselinux).
    static func open(_ name: String = soname) -> SELinuxLibrary? {
        // RTLD_LOCAL: keep its symbols out of the global namespace; the
        // handle is deliberately never closed, the pointers live as long as
        // the process.
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<F>(_ symbolName: String, as type: F.Type) -> F? {
            guard let pointer = dlsym(handle, symbolName) else { return nil }
            return unsafeBitCast(pointer, to: type)
        }
        guard let isEnabled = symbol("is_selinux_enabled", as: IsEnabledFunction.self),
              let getcon = symbol("getcon", as: GetConFunction.self),
              let freecon = symbol("freecon", as: FreeConFunction.self),
              let setexeccon = symbol("setexeccon", as: SetConFunction.self),
              let setsockcreatecon = symbol("setsockcreatecon", as: SetConFunction.self)
        else {
            dlclose(handle)
            return nil
        }
        return SELinuxLibrary(
            isSELinuxEnabled: isEnabled, getcon: getcon, freecon: freecon,
            setexeccon: setexeccon, setsockcreatecon: setsockcreatecon)
    }

    /// Whether the running kernel can have SELinux at all: a kernel with
    /// SELinux registers the selinuxfs filesystem. When /proc/filesystems
    /// cannot be read we cannot tell, and let libselinux decide.
    static func kernelMayHaveSELinux(filesystems path: String = "/proc/filesystems") -> Bool {
        guard let bytes = try? FileSystem.readIfExists(path) else { return true }
        // Lines are "nodev\tselinuxfs" or "\text4".
        return String(decoding: bytes, as: UTF8.self)
            .split(separator: "\n")
            .contains { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).last == "selinuxfs" }
    }
}
