import Glibc
import ShimSystem

/// The shim's state on disk (<state-dir>/state.json), rewritten atomically on
/// every change: a restarted engine discovers every shim and its container by
/// reading these files (`ocictl ps`) without asking each shim. The writes go
/// through a spare file (SwappedFile: no inode made or freed per write).
final class StateStore {
    var path: String { file.path }
    private let file: SwappedFile
    private let shimPid: Int32
    private let stateDir: String
    private let containerID: String
    /// How to reach the runtime that holds (or may hold) the container:
    /// what `ocictl` falls back to once this shim is gone.
    var runtime: RuntimeSettings?
    private var writeScheduled = false
    private var stopped = false
    private let loop: EventLoop

    init(stateDir: String, containerID: String, loop: EventLoop) {
        self.stateDir = stateDir
        self.containerID = containerID
        self.file = SwappedFile(path: FileSystem.join(stateDir, ShimStateFile.name),
                                spareSuffix: ShimStateFile.spareSuffix, mode: 0o600)
        self.shimPid = getpid()
        self.loop = loop
    }

    /// Coalesces the changes of one loop turn into one write.
    func scheduleWrite(_ snapshot: @escaping () -> (ContainerSnapshot?, [String: String], [ContainerEvent])) {
        guard !writeScheduled, !stopped else { return }
        writeScheduled = true
        loop.soon { [self] in
            writeScheduled = false
            guard !stopped else { return }
            let (container, paths, events) = snapshot()
            write(container: container, paths: paths, events: events)
        }
    }

    func write(container: ContainerSnapshot?, paths: [String: String], events: [ContainerEvent]) {
        let recorded = runtime.map { r in
            ShimStateFile.Runtime(path: r.runtime.path, root: r.root,
                                  args: (r.systemdCgroup ? ["--systemd-cgroup"] : []) + r.globalArgs)
        }
        let file = ShimStateFile(id: containerID, shimPid: shimPid, stateDir: stateDir, updatedAt: Clock.realtimeNanos(),
                                 container: container, runtime: recorded, paths: paths, events: events)
        do {
            try self.file.write(file.json.serializedBytes)
        } catch {
            // The shim goes on: the state file is for discovery, the live
            // answers come from the shim itself.
        }
    }

    /// No more writes: the shim's files are being removed.
    func stop() { stopped = true }
}
