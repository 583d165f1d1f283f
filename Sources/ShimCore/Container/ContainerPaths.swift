import ShimSystem

/// Where the container's files live: podman's path helpers (exit file,
/// attach sockets) plus the shim's own files, with engine overrides.
public struct ContainerPaths: Sendable {
    public let id: String
    public let stateDir: String
    public let bundle: String
    public let exitDir: String
    public let socketDir: String
    public let pidFile: String
    public let persistDir: String?
    /// conmon's --full-attach: the attach socket is <bundle>/attach itself.
    public let fullAttach: Bool
    /// The name of the link in the socket dir (conmon's cuuid).
    public let attachLinkName: String
    /// Where the init's attach socket, control FIFOs and `oom` marker are
    /// (CreateOptions.endpointsDir; the bundle by default, as conmon).
    public let endpointsDir: String

    init(id: String, stateDir: String, options: CreateOptions) {
        self.id = id
        self.stateDir = stateDir
        bundle = FileSystem.absolute(options.bundle)
        exitDir = options.exitDir.map { FileSystem.absolute($0) } ?? FileSystem.join(stateDir, "exits")
        socketDir = options.socketDir.map { FileSystem.absolute($0) } ?? FileSystem.join(stateDir, "sockets")
        pidFile = options.pidFile.map { FileSystem.absolute($0) } ?? FileSystem.join(stateDir, "pidfile")
        persistDir = options.persistDir.map { FileSystem.absolute($0) }
        fullAttach = options.fullAttach
        attachLinkName = options.attachLinkName ?? id
        endpointsDir = options.endpointsDir.map { FileSystem.absolute($0) } ?? bundle
    }

    /// podman's ExitFilePath: <exits dir>/<id>.
    public var exitFile: String { FileSystem.join(exitDir, id) }
    /// The exit dir is the shim's own (`<state-dir>/exits`, no engine's
    /// CreateOptions.exitDir): made when the exit file is written, not at
    /// create (one directory fewer to make and remove per container that
    /// never exits before its Delete).
    var exitDirIsOwn: Bool { exitDir == FileSystem.join(stateDir, "exits") }
    /// podman's AttachSocketPath: <sockets dir>/<id>/attach, where
    /// <sockets dir>/<id> is a symlink to the endpoints dir (the bundle, as
    /// conmon makes it, named after its --cuuid when that differs); with
    /// full attach, <endpoints dir>/attach itself.
    public var attachSocket: String {
        fullAttach ? FileSystem.join(endpointsDir, "attach") : FileSystem.join(socketDir, attachLinkName, "attach")
    }
    /// podman's ExecAttachSocketPath: <sockets dir>/<session>/attach.
    public func execAttachSocket(_ execID: String) -> String { FileSystem.join(socketDir, execID, "attach") }
    /// The default k8s-file log.
    public static func defaultLog(stateDir: String) -> String { FileSystem.join(stateDir, "ctr.log") }
    var runtimeLogDir: String { FileSystem.join(stateDir, "runtime") }
}
