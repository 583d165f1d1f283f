import Glibc
import ShimSystem

/// Resolves a path inside a root directory as the container would see it:
/// symlinks are followed relative to the root and `..` never climbs above
/// it (what securejoin does for podman). The shim runs as root on the host;
/// a container's /etc/passwd that links to a host file must not be read.
enum ScopedPath {
    /// The host path of `path` inside `root`; nil when a link loop or a
    /// too-deep chain makes it unresolvable.
    static func resolve(_ path: String, in root: String) -> String? {
        var pending = components(path)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." { continue }
            if part == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = FileSystem.join(root, (resolved + [part]).joined(separator: "/"))
            if let target = FileSystem.readLink(candidate) {
                links += 1
                if links > 40 { return nil }
                if target.hasPrefix("/") { resolved = [] }
                pending = components(target) + pending
                continue
            }
            resolved.append(part)
        }
        return FileSystem.join(root, resolved.joined(separator: "/"))
    }

    private static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }
}
