import Glibc
import ShimSystem

/// The environment every runtime invocation gets, as podman's
/// configureConmonEnv and StartContainer build it: XDG_RUNTIME_DIR, HOME and
/// PATH, the rootless markers, NOTIFY_SOCKET passed through, plus whatever the
/// engine adds. Nothing else of the shim's environment leaks into the runtime.
public struct RuntimeEnvironment: Sendable {
    public var variables: [String]

    /// Reads the shim's own environment once, at start-up.
    public static func fromProcess() -> RuntimeEnvironment {
        func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        var vars: [String] = []
        vars.append("XDG_RUNTIME_DIR=\(env("XDG_RUNTIME_DIR") ?? defaultRuntimeDir())")
        vars.append("_CONTAINERS_USERNS_CONFIGURED=\(env("_CONTAINERS_USERNS_CONFIGURED") ?? "")")
        vars.append("_CONTAINERS_ROOTLESS_UID=\(env("_CONTAINERS_ROOTLESS_UID") ?? "")")
        vars.append("HOME=\(env("HOME") ?? homeDirectory())")
        vars.append("PATH=\(env("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")")
        if let notify = env("NOTIFY_SOCKET") { vars.append("NOTIFY_SOCKET=\(notify)") }
        return RuntimeEnvironment(variables: vars)
    }

    /// This environment plus `extra` ("KEY=VALUE"; a later key replaces an
    /// earlier one).
    public func adding(_ extra: [String]) -> [String] {
        var out = variables
        for entry in extra {
            let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            out.removeAll { $0.hasPrefix(key + "=") }
            out.append(entry)
        }
        return out
    }

    /// podman's GetRuntimeDir: /run for root, /run/user/<uid> otherwise.
    private static func defaultRuntimeDir() -> String {
        let uid = geteuid()
        return uid == 0 ? "/run" : "/run/user/\(uid)"
    }

    /// From /etc/passwd itself rather than getpwuid: NSS in the fully static
    /// shim would need the identical glibc's modules at run time. Only read
    /// when HOME is unset.
    private static func homeDirectory() -> String {
        UserLookup(rootfs: "/").home(ofUID: geteuid())
    }
}
