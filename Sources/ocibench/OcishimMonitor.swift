import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// ocishim, driven through ShimClient over its stdio as an engine does.
struct OcishimMonitor: Monitor {
    let name = "ocishim"
    let shim: String
    let runc: String

    func create(_ spec: ContainerSpec) throws -> MonitoredContainer {
        let stateDir = spec.dir + "/state"
        let client = try ShimClient.spawn(shim: shim, arguments: [
            "--id", spec.id, "--state-dir", stateDir, "--runtime", runc, "--log-level", "error",
        ])
        client.timeoutSeconds = 120
        let container = OcishimContainer(id: spec.id, stateDir: stateDir, logPath: spec.logPath, runc: runc, client: client)
        do {
            // No Hello: podman does not greet conmon either; the shim's pid
            // is in its state directory once it serves.
            let _: Ocishim_V1_CreateResponse = try client.call("Create", Ocishim_V1_CreateRequest.with {
                $0.id = spec.id
                $0.bundle = spec.bundle
                $0.log.drivers = [.with { $0.driver = "k8s-file"; $0.path = spec.logPath }]
            })
            let pidText = try String(contentsOfFile: stateDir + "/shim.pid", encoding: .utf8)
            container.monitorPid = pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        } catch {
            container.destroy()
            throw BenchError("ocishim create \(spec.id): \(error)")
        }
        return container
    }
}

final class OcishimContainer: MonitoredContainer {
    let id: String
    let stateDir: String
    let logPath: String
    let runc: String
    var monitorPid: pid_t = 0
    let launcherCPUSeconds: Double
    private var client: ShimClient?

    init(id: String, stateDir: String, logPath: String, runc: String, client: ShimClient) {
        self.id = id
        self.stateDir = stateDir
        self.logPath = logPath
        self.runc = runc
        self.client = client
        launcherCPUSeconds = client.launcherCPUSeconds ?? 0
    }

    /// The engine's connection; after `disconnect` a new one over the shim's socket.
    private func connection() throws -> ShimClient {
        if let client { return client }
        let fresh = try ShimClient.connect(stateDir: stateDir)
        fresh.timeoutSeconds = 120
        client = fresh
        return fresh
    }

    func start() throws {
        let _: Ocishim_V1_StartResponse = try connection().call("Start", Ocishim_V1_StartRequest())
    }

    func waitExitRecorded() throws {
        let _: Ocishim_V1_WaitResponse = try connection().call("Wait", Ocishim_V1_WaitRequest())
    }

    func queryState(refresh: Bool) throws {
        let _: Ocishim_V1_StateResponse = try connection().call("State", Ocishim_V1_StateRequest.with { $0.refresh = refresh })
    }

    /// ExecSync of `args`; throws unless it exits 0.
    func execSync(_ args: [String]) throws {
        let response: Ocishim_V1_ExecSyncResponse = try connection().call("ExecSync", Ocishim_V1_ExecSyncRequest.with {
            $0.exec.execID = "bench-\(Clock.monotonicNanos())"
            $0.exec.args = args
        })
        guard response.exitCode == 0 else { throw BenchError("ExecSync \(args) exited with \(response.exitCode)") }
    }

    func disconnect() {
        client?.close()
        client = nil
    }

    func connect() throws {
        _ = try connection()
    }

    /// Set once `remove` has done its work: `destroy` has nothing left to do.
    private var removed = false

    func remove() throws {
        let client = try connection()
        let _: Ocishim_V1_StopResponse = try client.call("Stop", Ocishim_V1_StopRequest.with { $0.signal = UInt32(SIGKILL) })
        let _: Ocishim_V1_DeleteResponse = try client.call("Delete", Ocishim_V1_DeleteRequest())
        disconnect()
        guard Processes.waitForExitKeepingZombie(monitorPid, seconds: 30) else {
            throw BenchError("the shim of \(id) (pid \(monitorPid)) did not exit after Delete")
        }
        Processes.wait(monitorPid)
        removed = true
    }

    func destroy() {
        guard !removed else { return }
        if let client = try? connection() {
            let _: Ocishim_V1_DeleteResponse? = try? client.call("Delete", Ocishim_V1_DeleteRequest.with { $0.force = true })
            client.close()
        }
        self.client = nil
        if monitorPid > 0 {
            // The shim exits after Delete; as the bench is its subreaper, reap it.
            if !Processes.waitForExitKeepingZombie(monitorPid, seconds: 10) { kill(monitorPid, SIGKILL) }
            Processes.wait(monitorPid)
        }
        _ = try? Processes.run(runc, ["delete", "--force", id], allowFailure: true)
    }
}
