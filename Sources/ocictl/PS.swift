import ArgumentParser
import Glibc
import ShimSystem

struct PS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List the shims under the state root and their containers, from their state files.")
    @OptionGroup var address: ShimAddress

    func run() throws {
        let root = FileSystem.absolute(address.stateRoot)
        let ids = (try? FileSystem.list(root)) ?? []
        print(pad("ID", 24) + pad("STATUS", 10) + pad("PID", 9) + pad("EXIT", 6) + pad("SHIM", 14) + "BUNDLE")
        for id in ids {
            guard let state = StateFile.read(FileSystem.join(root, id)) else { continue }
            let shimAlive = state.shimPid > 0 && kill(state.shimPid, 0) == 0
            print(pad(id, 24) + pad(state.status, 10) + pad(state.pid > 0 ? "\(state.pid)" : "-", 9)
                  + pad(state.exitCode.map(String.init) ?? "-", 6)
                  + pad(shimAlive ? "\(state.shimPid)" : "gone", 14) + state.bundle)
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
