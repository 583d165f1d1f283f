import CShimSys
import Glibc
import ShimSystem

/// The few libselinux functions the shim needs.
///
/// A dynamically linked shim opens libselinux with dlopen instead of linking
/// it: every shared library a process maps costs private dirty pages
/// (relocations, GOT, its own data), and there is one shim per container, so
/// that cost multiplies by the container count. libselinux also pulls in
/// libpcre2 and runs a constructor that scans /proc/mounts. On most hosts
/// SELinux is off and none of that buys anything, so the library is only
/// loaded when the kernel could have SELinux at all, and a missing library
/// means "SELinux disabled", as it would for a shim built without it.
///
/// The fully static shim (Scripts/build-static) has libselinux.a linked in
/// instead: only its label functions, no libpcre2, and no dlopen, which a
/// static glibc supports only with the identical glibc installed at run time.
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

    /// Whether libselinux is linked into this executable (the static build),
    /// so that `open` ignores its argument.
    static var isLinked: Bool { ocishim_selinux_is_linked() != 0 }

    let isSELinuxEnabled: IsEnabledFunction
    let getcon: GetConFunction
    let freecon: FreeConFunction
    let setexeccon: SetConFunction
    let setsockcreatecon: SetConFunction

    /// The linked library, or `name` opened and every function resolved;
    /// nil when the library or any of the functions is missing.
    static func open(_ name: String = soname) -> SELinuxLibrary? {
        var functions = ocishim_selinux_functions()
        guard ocishim_selinux_functions(name, &functions) != 0,
              let isEnabled = functions.is_selinux_enabled,
              let getcon = functions.getcon,
              let freecon = functions.freecon,
              let setexeccon = functions.setexeccon,
              let setsockcreatecon = functions.setsockcreatecon
        else { return nil }
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
