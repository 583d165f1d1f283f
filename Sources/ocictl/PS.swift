import ArgumentParser
import ShimCore
import ShimSystem

struct PS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List the shims under the state root and their containers, from their state files.",
        discussion: """
            A shim that is gone shows as "gone". Its container is then "orphaned" while the \
            runtime still has it alive (created, running or paused: nothing monitors, logs or \
            reaps it; `ocictl state` shows the runtime's view, `ocictl rm --force` removes it), \
            else the exit the shim recorded or the runtime's status, "unknown" if the runtime \
            does not know it.
            """)
    @OptionGroup var address: ShimAddress

    func run() throws {
        let root = FileSystem.absolute(address.stateRoot)
        let ids = (try? FileSystem.list(root)) ?? []
        print(pad("ID", 24) + pad("STATUS", 10) + pad("PID", 9) + pad("EXIT", 6) + pad("SHIM", 14) + "BUNDLE")
        for id in ids {
            let dir = FileSystem.join(root, id)
            guard FileSystem.isDirectory(dir) else { continue }
            let record = ShimStateFile.read(stateDir: dir)
            var (status, pid, exitCode) = (record?.status ?? "none", record?.pid ?? 0, record?.exitCode)
            var shim = record.map { "\($0.shimPid)" } ?? "starting"
            if !StateDirLock.isHeld(stateDir: dir) {
                shim = "gone"
                let now = try? OrphanedContainer(id: id, stateDir: dir, record: record).currentStatus()
                (status, pid, exitCode) = (now?.status ?? "unknown", now?.pid ?? 0, now?.exitCode)
                if ["created", "running", "paused"].contains(status) { status = "orphaned" }
            }
            print(pad(id, 24) + pad(status, 10) + pad(pid > 0 ? "\(pid)" : "-", 9)
                  + pad(exitCode.map(String.init) ?? "-", 6) + pad(shim, 14) + (record?.bundle ?? ""))
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
