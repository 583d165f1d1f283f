import ShimSystem

/// Which runtime to use: a name and the candidate paths to try, in order.
public struct RuntimeSelection: Sendable, Equatable {
    public var name: String
    public var paths: [String]
    /// Fall back to `$PATH` (a bare name); an explicit path does not.
    public var searchPath: Bool
    /// The one path is taken as it is, whatever is there: the engine
    /// checked it as it wants (conmon: access(X_OK) only), and running it
    /// is what tells (a directory fails with status 127).
    public var asGiven = false

    public init(name: String, paths: [String], searchPath: Bool = true) {
        self.name = name
        self.paths = paths
        self.searchPath = searchPath
    }

    /// `--runtime runc` or `--runtime /opt/bin/runc`: a path names itself,
    /// a bare name gets the usual install locations (containers.conf's).
    public init(_ nameOrPath: String, extraPaths: [String] = []) {
        if nameOrPath.contains("/") {
            self.init(name: FileSystem.basename(of: nameOrPath), paths: [nameOrPath] + extraPaths, searchPath: false)
        } else {
            let dirs = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/sbin", "/bin",
                        "/run/current-system/sw/bin"]
            self.init(name: nameOrPath, paths: extraPaths + dirs.map { "\($0)/\(nameOrPath)" })
        }
    }
}

/// The resolved runtime.
public struct ResolvedRuntime: Sendable, Equatable {
    public let name: String
    public let path: String
}

public enum RuntimeLocator {
    /// As podman's newConmonOCIRuntime: the first candidate that is a
    /// regular file wins; a candidate that cannot be examined for another
    /// reason than absence is an error; then `$PATH`; then a clear error.
    public static func resolve(_ selection: RuntimeSelection, searchPath: String? = nil) throws(CoreError) -> ResolvedRuntime {
        guard !selection.name.isEmpty else {
            throw .invalid("the OCI runtime must be provided a non-empty name")
        }
        if selection.asGiven, let path = selection.paths.first {
            return ResolvedRuntime(name: selection.name, path: path)
        }
        for path in selection.paths {
            switch examine(path) {
            case .missing, .notRegular: continue
            case .regular: return ResolvedRuntime(name: selection.name, path: path)
            case .error(let err): throw .invalid("cannot stat OCI runtime \(selection.name) at \(path): \(err)")
            }
        }
        if selection.searchPath, let found = FileSystem.lookPath(selection.name, path: searchPath) {
            return ResolvedRuntime(name: selection.name, path: found)
        }
        let tried = selection.paths.isEmpty ? "" : " (tried \(selection.paths.joined(separator: ", "))\(selection.searchPath ? " and $PATH" : ""))"
        throw .invalid("no valid executable found for OCI runtime \(selection.name)\(tried)")
    }

    /// podman accepts exactly these two managers.
    public static func validateCgroupManager(_ manager: String) throws(CoreError) {
        guard manager == "cgroupfs" || manager == "systemd" else {
            throw .invalid("invalid cgroup manager specified: \(manager) (use cgroupfs or systemd)")
        }
    }

    private enum Examination { case missing, notRegular, regular, error(String) }

    private static func examine(_ path: String) -> Examination {
        do {
            if try FileSystem.statMode(path) == nil { return .missing }
        } catch {
            return .error(error.description)
        }
        return FileSystem.isRegularFile(path) ? .regular : .notRegular
    }
}
