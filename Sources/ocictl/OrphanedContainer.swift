import Glibc
import ShimCore
import ShimSystem

/// A container whose shim is gone (killed, crashed, or never fully started):
/// nothing answers on its socket and no process holds its state dir's lock.
/// Like podman when conmon is gone, ocictl then asks the runtime the shim
/// recorded. No new shim takes such a container over (docs/PROTOCOL.md,
/// "Clients and the shim's life"): it can be inspected, signalled and removed.
struct OrphanedContainer {
    let id: String
    let stateDir: String
    /// The shim's last state.json; nil if it never wrote one.
    let record: ShimStateFile?

    init(id: String, stateDir: String, record: ShimStateFile?) {
        self.id = id
        self.stateDir = stateDir
        self.record = record
    }

    init(id: String, stateDir: String) {
        self.init(id: id, stateDir: stateDir, record: ShimStateFile.read(stateDir: stateDir))
    }

    /// What to show as its state now.
    struct Status {
        var status: String
        var pid: Int32
        var exitCode: Int32?
        /// Where `status` comes from, for `ocictl state`.
        var source: String
    }

    /// An exit the shim recorded is final; anything else it recorded may be
    /// stale, so the runtime's word replaces it ("unknown" when no runtime
    /// knows the container).
    func currentStatus() throws -> Status {
        if let record, ["stopped", "deleted"].contains(record.status) {
            return Status(status: record.status, pid: record.pid, exitCode: record.exitCode,
                          source: "recorded by the shim before it went")
        }
        guard let runtime = record?.recordedRuntime else {
            return Status(status: "unknown", pid: 0, source: "no runtime recorded in \(stateDir)/state.json")
        }
        guard let view = try runtime.state(id) else {
            return Status(status: "unknown", pid: 0, source: "\(runtime.name) does not know \(id)")
        }
        return Status(status: view.status, pid: view.pid, source: "\(runtime.name) state")
    }

    func kill(signal: UInt32, all: Bool) throws {
        guard let runtime = record?.recordedRuntime else {
            throw CLIError("the shim of \(id) is gone and recorded no runtime to signal it through")
        }
        try runtime.kill(id, signal: signal, all: all)
    }

    /// Deletes the container from the runtime (killing what still runs
    /// only with `force`) and removes the state dir. Without `force` a
    /// container the runtime still runs is refused.
    func remove(force: Bool) throws {
        if let record, record.recordedRuntime == nil, ["created", "running", "paused"].contains(record.status) {
            throw CLIError("the shim of \(id) is gone and recorded no runtime: delete the container with its runtime "
                           + "(`runc delete --force \(id)`), then remove \(stateDir)")
        }
        if let runtime = record?.recordedRuntime, let view = try runtime.state(id) {
            if !force && ["running", "paused"].contains(view.status) {
                throw CLIError("container \(id) is \(view.status) in \(runtime.name) and its shim is gone: "
                               + "remove it with `ocictl rm --force \(id)`")
            }
            try runtime.delete(id)
        }
        do { try FileSystem.removeTree(stateDir) } catch {
            throw CLIError("cannot remove \(stateDir): \(error)")
        }
    }
}
