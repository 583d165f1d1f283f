import ArgumentParser
import Glibc
import ShimClient
import ShimCore
import ShimProtocol
import ShimSystem

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a container's log (k8s-file), stdout and stderr apart.")
    @OptionGroup var address: ShimAddress
    @Flag(name: [.short, .long], help: "Keep printing until the container has exited.") var follow = false
    @Argument var id: String

    func run() throws {
        let stateDir = address.stateDir(id)
        guard let state = ShimStateFile.read(stateDir: stateDir), let path = state.logPath else {
            throw CLIError("no k8s-file log known for container \(id) (state in \(stateDir))")
        }
        var reader = LogFollower(path: path)
        if !follow {
            reader.printAvailable()
            return
        }
        let client = try? address.connect(id)
        reader.follow {
            guard let client else { return true }
            let s: Ocishim_V1_StateResponse? = try? client.call("State", Ocishim_V1_StateRequest(), timeoutSeconds: 5)
            return s.map { $0.status == .stopped || $0.status == .deleted } ?? true
        }
    }
}

/// Reads k8s-file records and prints their content: stdout records to
/// stdout, stderr records to stderr, a P record without its newline.
struct LogFollower {
    let path: String
    private var fd: Int32 = -1
    private var inode: ino_t = 0
    private var pending: [UInt8] = []

    init(path: String) { self.path = path }

    /// Prints what the file holds now.
    mutating func printAvailable() {
        reopenIfReplaced()
        guard fd >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            pending += buf[0..<n]
            emitRecords()
        }
    }

    /// Prints until `finished` says the writer is done and the file is read.
    mutating func follow(finished: () -> Bool) {
        while true {
            let done = finished()
            printAvailable()
            if done { return }
            usleep(100_000)
        }
    }

    /// Log rotation replaces the file: start over on the new one.
    private mutating func reopenIfReplaced() {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if fd >= 0 && st.st_ino == inode {
            var current = stat()
            if fstat(fd, &current) == 0 && lseek(fd, 0, SEEK_CUR) > st.st_size { lseek(fd, 0, SEEK_SET) }
            return
        }
        if fd >= 0 { close(fd) }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        inode = st.st_ino
        pending = []
    }

    private mutating func emitRecords() {
        var start = 0
        while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            emit(pending[start..<nl])
            start = nl + 1
        }
        pending.removeFirst(start)
    }

    /// "<time> <stream> <P|F> <content>"
    private func emit(_ record: ArraySlice<UInt8>) {
        let fields = record.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count >= 3 else { return }
        let out: Int32 = fields[1].elementsEqual("stderr".utf8) ? 2 : 1
        var bytes = fields.count == 4 ? Array(fields[3]) : []
        if fields[2].elementsEqual("F".utf8) { bytes.append(UInt8(ascii: "\n")) }
        try? FileSystem.writeAll(fd: out, bytes, what: "output")
    }
}
