import Foundation
import Glibc

/// A containerd shim's idle memory: a private containerd started for the
/// purpose (its own root, state and socket, the CRI plugin off), `ctr run
/// -d --rootfs --runtime R` containers, the shims found by their -address
/// argument. Everything is removed again, containerd stopped by its pid.
struct ContainerdShimProbe {
    let containerd: String
    let ctr: String
    let dir: String
    let rootfs: String
    /// The runtime name ctr asks for (io.containerd.runc.v2,
    /// io.containerd.ocishim.v1).
    var runtime = "io.containerd.runc.v2"
    /// Put first on containerd's PATH, where it looks for the shim binary
    /// the runtime name stands for.
    var shimDirectory: String?

    var socket: String { dir + "/containerd.sock" }

    func measure(count: Int, _ report: (ProcFS.Memory) -> Void) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = """
            version = 2
            root = "\(dir)/root"
            state = "\(dir)/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(socket)"
            [ttrpc]
              address = "\(socket).ttrpc"
            """
        try config.write(toFile: dir + "/config.toml", atomically: true, encoding: .utf8)
        let logFD = open(dir + "/containerd.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(logFD) }
        var environment = Processes.environment
        if let shimDirectory {
            let path = environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/sbin:/usr/bin:/sbin:/bin"
            environment = environment.filter { !$0.hasPrefix("PATH=") } + ["PATH=\(shimDirectory):\(path)"]
        }
        let daemon = try Processes.spawn(containerd, ["--config", dir + "/config.toml"], fds: [(1, logFD), (2, logFD)],
                                         environment: environment)
        defer {
            kill(daemon, SIGTERM)
            Processes.wait(daemon)
            try? FileManager.default.removeItem(atPath: dir)
        }
        guard waitForSocket(seconds: 20) else { throw BenchError("containerd did not start (see \(dir)/containerd.log)") }

        let ids = (0..<count).map { "ocibench-\(getpid())-ctrd-\($0)" }
        defer {
            for id in ids {
                _ = try? Processes.run(ctr, ["-a", socket, "task", "kill", "-s", "SIGKILL", id], allowFailure: true)
            }
            for id in ids {
                for _ in 0..<50 {
                    let out = (try? Processes.run(ctr, ["-a", socket, "task", "rm", id], allowFailure: true)) ?? ""
                    if !out.contains("running") { break }
                    usleep(100_000)
                }
                _ = try? Processes.run(ctr, ["-a", socket, "container", "rm", id], allowFailure: true)
            }
        }
        for id in ids {
            try Processes.run(ctr, ["-a", socket, "run", "-d", "--runtime", runtime, "--rootfs", rootfs, id, "/bin/sleep", "1000000"])
        }
        usleep(1_500_000)
        let shims = ProcFS.pids(named: "containerd-shim").filter { pid in
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            return cmdline.contains(socket)
        }
        guard shims.count == count else { throw BenchError("expected \(count) shims of \(runtime), found \(shims.count)") }
        for pid in shims {
            if let memory = ProcFS.memory(pid) { report(memory) }
        }
    }

    private func waitForSocket(seconds: Double) -> Bool {
        for _ in 0..<Int(seconds * 20) {
            if (try? Processes.run(ctr, ["-a", socket, "version"])) != nil { return true }
            usleep(50_000)
        }
        return false
    }
}
