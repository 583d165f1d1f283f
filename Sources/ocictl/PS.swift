import ArgumentParser
import ShimCore
import ShimSystem

struct PS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List the shims under the root and their containers, from their state files.",
        discussion: """
            A shim that is gone shows as "gone". Its container is then "orphaned" while the \
            runtime still has it alive (created, running or paused: nothing monitors, logs or \
            reaps it; `ocictl state` shows the runtime's view, `ocictl rm --force` removes it), \
            else the exit the shim recorded or the runtime's status, "unknown" if the runtime \
            does not know it. --format json prints one array of objects with the fields id, \
            status, pid, exitCode (null until known), shim ("running", "starting" or "gone"), \
            shimPid, bundle and created (RFC 3339); -q prints the ids only.
            """,
        aliases: ["list", "ls"])
    @OptionGroup var address: ShimAddress
    @OptionGroup var format: FormatOption
    @Flag(name: [.short, .long], help: "Print only the container ids.") var quiet = false

    struct Row {
        var id: String
        var status: String
        var pid: Int32
        var exitCode: Int32?
        var shim: String
        var shimPid: Int32
        var bundle: String
        var createdAt: Int64

        var json: JSONValue {
            .object([
                ("id", .string(id)), ("status", .string(status)), ("pid", .int(Int64(pid))),
                ("exitCode", exitCode.map { .int(Int64($0)) } ?? .null), ("shim", .string(shim)),
                ("shimPid", .int(Int64(shimPid))), ("bundle", .string(bundle)),
                ("created", .string(TimeText.rfc3339(nanos: createdAt))),
            ])
        }
    }

    func rows() -> [Row] {
        let root = FileSystem.absolute(address.stateRoot)
        let ids = ((try? FileSystem.list(root)) ?? []).sorted()
        return ids.compactMap { id in
            let dir = FileSystem.join(root, id)
            guard FileSystem.isDirectory(dir) else { return nil }
            let record = ShimStateFile.read(stateDir: dir)
            var row = Row(id: id, status: record?.status ?? "none", pid: record?.pid ?? 0, exitCode: record?.exitCode,
                          shim: record == nil ? "starting" : "running", shimPid: record?.shimPid ?? 0,
                          bundle: record?.bundle ?? "", createdAt: record?.container?.createdAt ?? 0)
            if !StateDirLock.isHeld(stateDir: dir) {
                row.shim = "gone"
                let now = try? OrphanedContainer(id: id, stateDir: dir, record: record).currentStatus()
                (row.status, row.pid, row.exitCode) = (now?.status ?? "unknown", now?.pid ?? 0, now?.exitCode)
                if ["created", "running", "paused"].contains(row.status) { row.status = "orphaned" }
            }
            return row
        }
    }

    func run() throws {
        let rows = rows()
        if quiet {
            for row in rows { print(row.id) }
            return
        }
        if format.isJSON {
            print(JSONValue.array(rows.map(\.json)).pretty)
            return
        }
        print(pad("ID", 24) + pad("STATUS", 10) + pad("PID", 9) + pad("EXIT", 6) + pad("SHIM", 14) + "BUNDLE")
        for row in rows {
            let shim = row.shim == "running" ? "\(row.shimPid)" : row.shim
            print(pad(row.id, 24) + pad(row.status, 10) + pad(row.pid > 0 ? "\(row.pid)" : "-", 9)
                  + pad(row.exitCode.map(String.init) ?? "-", 6) + pad(shim, 14) + row.bundle)
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
