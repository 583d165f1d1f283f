import ShimCore
import ShimProtocol

/// Protocol messages to core values and back. Validation that only concerns
/// the shape of a request (ids, enums, driver names) happens here; what needs
/// the container's state happens in the core.
enum Translate {
    static func createOptions(_ req: Ocishim_V1_CreateRequest, core: RuntimeCore) throws(RPCError) -> CreateOptions {
        if !req.id.isEmpty && req.id != core.containerID {
            throw RPCError(.invalidArgument, "Create is for container \(req.id) but this shim serves \(core.containerID)")
        }
        guard !req.bundle.isEmpty else { throw RPCError(.invalidArgument, "Create needs a bundle directory") }
        var o = CreateOptions(bundle: try absolute(req.bundle, "bundle"))
        o.terminal = req.terminal
        o.stdin = req.stdin
        o.leaveStdinOpen = req.leaveStdinOpen
        o.log = try logOptions(req.log)
        o.exitDir = try absolute(nonEmpty(req.exitDir), "exit dir")
        o.exitCommand = req.exitCommand
        o.exitDelaySeconds = req.exitDelaySeconds
        o.noPivot = req.noPivot
        o.noNewKeyring = req.noNewKeyring
        if req.hasRuntime {
            o.runtimePath = try absolute(nonEmpty(req.runtime.path), "runtime path")
            o.runtimeRoot = try absolute(nonEmpty(req.runtime.root), "runtime root")
            o.runtimeGlobalArgs = req.runtime.globalArgs
            o.runtimeCreateArgs = req.runtime.createArgs
            o.runtimeTimeoutSeconds = req.runtime.timeoutSeconds > 0 ? Double(req.runtime.timeoutSeconds) : nil
            o.runtimeEnvironment = req.runtime.env
            for entry in req.runtime.env where !entry.contains("=") {
                throw RPCError(.invalidArgument, "runtime environment entry \"\(entry)\" is not KEY=VALUE")
            }
        }
        switch req.cgroupManager {
        case "": break
        case "disabled": o.noCgroups = true
        default: o.cgroupManager = req.cgroupManager
        }
        o.cgroupParent = req.cgroupParent
        o.noCgroups = o.noCgroups || req.noCgroups
        o.processLabel = req.processLabel
        o.mountLabel = req.mountLabel
        o.reservePorts = try req.reservePorts.map { p throws(RPCError) in
            guard p.hostPort > 0, p.hostPort <= 65535, p.range <= 65535 else {
                throw RPCError(.invalidArgument, "invalid host port \(p.hostPort) (range \(p.range))")
            }
            return PortSpec(protocol: p.protocol.isEmpty ? "tcp" : p.protocol, hostIP: p.hostIp,
                            hostPort: Int(p.hostPort), range: Int(p.range))
        }
        if req.hasRestore {
            guard !req.restore.imagePath.isEmpty else { throw RPCError(.invalidArgument, "restore needs an image path") }
            var r = RestoreOptions(imagePath: req.restore.imagePath)
            r.workPath = nonEmpty(req.restore.workPath)
            r.tcpEstablished = req.restore.tcpEstablished
            r.fileLocks = req.restore.fileLocks
            r.runtimeArgs = req.restore.runtimeArgs
            o.restore = r
        }
        o.pidFile = try absolute(nonEmpty(req.pidFile), "pid file")
        o.socketDir = try absolute(nonEmpty(req.socketDir), "socket dir")
        o.fullAttach = req.fullAttach
        // The engine's bundle stays as it gave it: the init's attach socket,
        // control FIFOs and oom marker go into the shim's state dir (the
        // conmon front end keeps them in the bundle, where podman looks).
        o.endpointsDir = core.config.stateDir
        o.uidMappings = req.uidMappings.map { IDMap(containerID: $0.containerID, hostID: $0.hostID, size: $0.size) }
        o.gidMappings = req.gidMappings.map { IDMap(containerID: $0.containerID, hostID: $0.hostID, size: $0.size) }
        o.makeAccessible = try req.makeAccessible.map { p throws(RPCError) in try absolute(p, "make-accessible path") }
        o.privileged = req.privileged
        o.detachKeys = req.detachKeys
        o.shimPidFile = try absolute(nonEmpty(req.shimPidFile), "shim pid file")
        o.persistDir = try absolute(nonEmpty(req.persistDir), "persist dir")
        return o
    }

    static func logOptions(_ log: Ocishim_V1_LogConfig) throws(RPCError) -> LogOptions {
        var o = LogOptions()
        o.sizeMax = log.sizeMax
        o.maxFiles = Int(log.maxFiles)
        o.tag = log.tag
        o.containerName = log.containerName
        o.followSymlinks = log.followSymlinks
        o.drivers = try log.drivers.map { d throws(RPCError) -> LogDriverKind in
            switch d.driver {
            case "k8s-file", "":
                guard !d.path.isEmpty else { throw RPCError(.invalidArgument, "the k8s-file log driver needs a path") }
                return .k8sFile(path: try absolute(d.path, "log path"))
            case "journald": return d.path.isEmpty ? .journald() : .journald(socketPath: try absolute(d.path, "journald socket path"))
            case "none": return .none
            case "passthrough":
                throw RPCError(.invalidArgument, "the passthrough log driver hands the engine's stdio to the container; it exists only in the conmon front end")
            default:
                throw RPCError(.invalidArgument, "unknown log driver \"\(d.driver)\": use k8s-file, journald or none")
            }
        }
        return o
    }

    static func status(_ s: ContainerStatus) -> Ocishim_V1_ContainerStatus {
        switch s {
        case .none: .none
        case .created: .created
        case .running: .running
        case .paused: .paused
        case .stopped: .stopped
        case .deleted: .deleted
        }
    }

    static func state(_ s: ContainerSnapshot) -> Ocishim_V1_StateResponse {
        var r = Ocishim_V1_StateResponse()
        r.id = s.id
        r.status = status(s.status)
        r.pid = s.pid
        r.exitCode = s.exitCode ?? 0
        r.createdAt = s.createdAt
        r.startedAt = s.startedAt
        r.finishedAt = s.finishedAt
        r.oomKilled = s.oomKilled
        r.checkpointed = s.checkpointed
        r.bundle = s.bundle
        r.terminal = s.terminal
        r.logError = s.logError ?? ""
        r.logBytesDropped = s.logBytesDropped
        r.execIds = s.execIDs
        return r
    }

    static func event(_ e: ContainerEvent) -> Ocishim_V1_Event {
        var r = Ocishim_V1_Event()
        r.seq = e.seq
        r.type = eventType(e.kind)
        r.timestamp = e.timestamp
        r.containerID = e.containerID
        r.execID = e.execID
        r.pid = e.pid
        r.exitCode = e.exitCode
        r.message = e.message
        return r
    }

    static func eventType(_ k: ContainerEvent.Kind) -> Ocishim_V1_EventType {
        switch k {
        case .created: .created
        case .started: .started
        case .paused: .paused
        case .resumed: .resumed
        case .exited: .exited
        case .oom: .oom
        case .deleted: .deleted
        case .execStarted: .execStarted
        case .execExited: .execExited
        case .checkpointed: .checkpointed
        case .restored: .restored
        case .logError: .logError
        case .logResumed: .logResumed
        }
    }

    static func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }

    /// Paths in requests must be absolute: the shim's working directory is
    /// not the engine's (the shim is a daemon of its own), so a relative path
    /// would silently name another file. (Checkpoint and restore paths are
    /// checked by the core, for every front end.)
    static func absolute(_ path: String, _ field: String) throws(RPCError) -> String {
        guard path.hasPrefix("/") else {
            throw RPCError(.invalidArgument,
                "the \(field) must be absolute (the shim's working directory is not the engine's): \"\(path)\"")
        }
        return path
    }

    static func absolute(_ path: String?, _ field: String) throws(RPCError) -> String? {
        guard let path else { return nil }
        return try absolute(path, field) as String
    }

    // --- attach and exec ------------------------------------------------------------

    static func attachRequest(_ o: Ocishim_V1_AttachOptions) throws(RPCError) -> AttachRequest {
        guard o.stdin || o.stdout || o.stderr else {
            throw RPCError(.invalidArgument, "must specify at least one stream to attach to (stdin, stdout, stderr)")
        }
        var r = AttachRequest(execID: nonEmpty(o.execID))
        r.replayLog = o.replayLog
        r.stdin = o.stdin
        r.stdout = o.stdout
        r.stderr = o.stderr
        if o.noDetachKeys {
            r.detachKeys = DetachKeys.none
        } else if !o.detachKeys.isEmpty {
            do throws(CoreError) { r.detachKeys = try DetachKeys.parse(o.detachKeys) } catch { throw RPCError(error) }
        }
        return r
    }

    static func execOptions(_ req: Ocishim_V1_ExecRequest) throws(RPCError) -> ExecOptions {
        guard !req.args.isEmpty else { throw RPCError(.invalidArgument, "must provide a command to execute") }
        var o = ExecOptions(execID: req.execID, args: req.args)
        o.env = req.env
        o.cwd = req.cwd
        o.user = req.user
        o.additionalGroups = req.additionalGroups
        o.terminal = req.terminal
        o.stdin = req.stdin
        o.capAdd = req.capAdd
        o.preserveFDs = req.preserveFds
        o.timeoutSeconds = req.timeoutSeconds
        o.processLabel = req.processLabel
        o.runtimeArgs = req.runtimeArgs
        return o
    }

    /// Terminal sizes are 16-bit (struct winsize).
    static func terminalSize(height: UInt32, width: UInt32) throws(RPCError) -> (UInt16, UInt16) {
        guard height <= UInt32(UInt16.max), width <= UInt32(UInt16.max) else {
            throw RPCError(.invalidArgument, "invalid terminal size \(height)x\(width): rows and columns must be at most \(UInt16.max)")
        }
        return (UInt16(height), UInt16(width))
    }
}
