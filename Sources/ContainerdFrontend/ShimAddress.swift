import Glibc
import ShimSystem

/// Where a containerd shim listens, as containerd's shims name it
/// (runtime/v2/shim/util_unix.go): `unix:///run/containerd/s/<sha256 of
/// containerd's address/namespace/id>`, under /run/containerd whatever
/// containerd's own state dir (a private containerd's shims are told apart
/// by its address). The address is what `start` prints and writes to the
/// bundle's `address` file.
enum ShimAddress {
    static let socketRoot = "/run/containerd/s"

    static func make(containerdAddress: String, namespace: String, id: String) -> String {
        "unix://" + socketRoot + "/" + SHA256.hex(cleanPath(containerdAddress + "/" + namespace + "/" + id))
    }

    /// The socket file of a `unix://` address; nil for an abstract one
    /// (containerd's shims stopped using those in 1.5).
    static func path(of address: String) -> String? {
        guard address.hasPrefix("unix://") else { return nil }
        return String(address.dropFirst("unix://".count))
    }

    /// Go's filepath.Clean for absolute and relative paths: repeated and
    /// trailing slashes, "." and ".." resolved lexically.
    static func cleanPath(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." { parts.removeLast() } else if !absolute { parts.append(part) }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}
