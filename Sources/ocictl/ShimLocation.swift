import Glibc
import ShimSystem

/// Where the ocishim binary is: --shim, $OCISHIM, next to ocictl, or $PATH.
enum ShimLocation {
    static func resolve(_ explicit: String?) -> String {
        if let explicit { return explicit }
        if let env = getenv("OCISHIM") { return String(cString: env) }
        if let me = FileSystem.readLink("/proc/self/exe") {
            let sibling = FileSystem.join(FileSystem.dirname(of: me), "ocishim")
            if FileSystem.isExecutableFile(sibling) { return sibling }
        }
        return FileSystem.lookPath("ocishim") ?? "ocishim"
    }
}
