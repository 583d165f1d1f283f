import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem
import XCTest

/// What podman's create path does around the container: ports, socket
/// activation, held fds, runtime deadlines, cgroup placement, user namespaces.
final class EnvironmentTests: XCTestCase {
    func testReservedPortIsHeldForTheContainersLife() throws {
        let port = try freeTCPPort()
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "read x"])
        try shim.create(bundle) {
            $0.stdin = true
            $0.reservePorts = [.with { $0.protocol = "tcp"; $0.hostPort = UInt32(port) }]
        }
        XCTAssertFalse(canBind(port), "the shim holds port \(port)")
        _ = try shim.start()
        let _: Ocishim_V1_KillResponse = try shim.call("Kill", Ocishim_V1_KillRequest.with { $0.signal = 9 })
        _ = try shim.wait()
        XCTAssertTrue(canBind(port), "released when the container exits")
    }

    func testAPortInUseFailsCreateClearly() throws {
        let port = try freeTCPPort()
        let holder = try bindTCP(port)
        defer { close(holder) }
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        let error = try shim.failure("Create", shim.createRequest(bundle) {
            $0.reservePorts = [.with { $0.hostPort = UInt32(port) }]
        })
        XCTAssertEqual(error?.code, .alreadyExists)
        XCTAssertTrue(error?.message.contains("\(port)") ?? false, error?.message ?? "")
        XCTAssertEqual(try shim.state().status, .none)
    }

    func testSocketActivationFdsReachTheContainer() throws {
        let listener = try bindTCP(try freeTCPPort())
        defer { close(listener) }
        let dir = try TestSupport.makeTemporaryDirectory(prefix: "listenfds", for: self)
        let id = "lfd-\(getpid())"
        addTeardownBlock { _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id]) }
        var env = ProcessInfo.processInfo.environment
        env["LISTEN_FDS"] = "1"
        env["LISTEN_PID"] = "1"
        let client = try ShimClient.spawn(shim: try TestSupport.ocishim(), arguments: ["--id", id, "--state-dir", dir + "/state"],
                                          environment: env.map { "\($0.key)=\($0.value)" },
                                          inheritedFds: SpawnOptions.fdTable([(3, listener)]))  // fd 3, as socket activation has it
        let bundle = try BusyboxBundle.make(in: dir, args: ["/bin/sh", "-c", "echo LISTEN_FDS=$LISTEN_FDS; ls -l /proc/self/fd/3"])
        let _: Ocishim_V1_CreateResponse = try client.call("Create", Ocishim_V1_CreateRequest.with { $0.bundle = bundle.path })
        let _: Ocishim_V1_StartResponse = try client.call("Start", Ocishim_V1_StartRequest())
        let exit: Ocishim_V1_WaitResponse = try client.call("Wait", Ocishim_V1_WaitRequest())
        XCTAssertEqual(exit.exitCode, 0)
        let log = try String(contentsOfFile: dir + "/state/ctr.log", encoding: .utf8)
        XCTAssertTrue(log.contains("LISTEN_FDS=1"), log)
        XCTAssertTrue(log.contains("socket:["), "fd 3 in the container is the engine's socket: \(log)")
        let _: Ocishim_V1_DeleteResponse = try client.call("Delete", Ocishim_V1_DeleteRequest())
    }

    func testKeptFdIsHeldUntilTheContainerExits() throws {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]) }
        let dir = try TestSupport.makeTemporaryDirectory(prefix: "keepfd", for: self)
        let id = "keep-\(getpid())"
        addTeardownBlock { _ = try? TestSupport.run("/usr/sbin/runc", ["delete", "--force", id]) }
        let client = try ShimClient.spawn(shim: try TestSupport.ocishim(),
                                          arguments: ["--id", id, "--state-dir", dir + "/state", "--keep-fd", "7"],
                                          inheritedFds: SpawnOptions.fdTable([(7, fds[1])]))
        close(fds[1])
        let bundle = try BusyboxBundle.make(in: dir, args: ["/bin/sh", "-c", "sleep 0.5"])
        let _: Ocishim_V1_CreateResponse = try client.call("Create", Ocishim_V1_CreateRequest.with { $0.bundle = bundle.path })
        XCTAssertFalse(readable(fds[0]), "the shim holds the write end while the container lives")
        let _: Ocishim_V1_StartResponse = try client.call("Start", Ocishim_V1_StartRequest())
        let _: Ocishim_V1_WaitResponse = try client.call("Wait", Ocishim_V1_WaitRequest())
        XCTAssertTrue(readable(fds[0], timeoutMillis: 2000), "closed with the container's exit: the reader sees EOF")
        let _: Ocishim_V1_DeleteResponse = try client.call("Delete", Ocishim_V1_DeleteRequest())
    }

    func testAHungRuntimeIsKilledAtItsDeadline() throws {
        let shim = try ShimHarness(self)
        let fake = shim.dir + "/hung-runtime"
        // A runtime that never answers `create`; every other command is runc's.
        // Its sleep is told apart from every other process on the machine.
        let marker = "300\(Int.random(in: 100_000...999_999))"
        try "#!/bin/sh\nfor a; do [ \"$a\" = create ] && exec sleep \(marker); done\nexec /usr/sbin/runc \"$@\"\n"
            .write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        let start = Date()
        let error = try shim.failure("Create", shim.createRequest(bundle) {
            $0.runtime.path = fake
            $0.runtime.timeoutSeconds = 1
        })
        XCTAssertEqual(error?.code, .deadlineExceeded, error?.message ?? "")
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertEqual(shim.zombies(), [])
        let sleepers = try TestSupport.run("/usr/bin/pgrep", ["-f", "sleep \(marker)"]).output
        XCTAssertEqual(sleepers.trimmingCharacters(in: .whitespacesAndNewlines), "", "the hung runtime was killed")
        XCTAssertEqual(try shim.state().status, .none)
    }

    func testTheShimPlacesItselfUnderTheCgroupParent() throws {
        let parent = "ocishim-it-\(getpid())"
        guard FileManager.default.isWritableFile(atPath: "/sys/fs/cgroup/memory") ||
              FileManager.default.isWritableFile(atPath: "/sys/fs/cgroup/cgroup.procs") else {
            throw XCTSkip("cgroups are not writable here")
        }
        let shim = try ShimHarness(self)
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/true"])
        try shim.create(bundle) { $0.cgroupParent = parent }
        let cgroups = try String(contentsOfFile: "/proc/\(shim.shimPid)/cgroup", encoding: .utf8)
        XCTAssertTrue(cgroups.contains("/\(parent)/conmon"), cgroups)
        _ = try shim.start()
        _ = try shim.wait()
        let _: Ocishim_V1_DeleteResponse = try shim.call("Delete", Ocishim_V1_DeleteRequest())
        XCTAssertTrue(shim.eventually(5) { !ShimHarness.alive(shim.shimPid) })
        XCTAssertTrue(shim.eventually(5) { !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/\(parent)/conmon") },
                      "the shim removes its cgroup when it leaves")
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            rmdir("/sys/fs/cgroup/\(hierarchy)/\(parent)")
        }
    }

    func testAUserNamespaceContainerGetsAccessToItsFiles() throws {
        let shim = try ShimHarness(self)
        let mapping: [[String: Any]] = [["containerID": 0, "hostID": 100000, "size": 65536]]
        let bundle = try BusyboxBundle.make(in: shim.dir, args: ["/bin/sh", "-c", "cat /proc/self/uid_map"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            var namespaces = linux["namespaces"] as? [[String: Any]] ?? []
            namespaces.append(["type": "user"])
            linux["namespaces"] = namespaces
            linux["uidMappings"] = mapping
            linux["gidMappings"] = mapping
            config["linux"] = linux
        }
        chmod(shim.dir, 0o700)
        chmod(shim.stateDir, 0o700)
        do {
            try shim.create(bundle)
        } catch ClientError.rpc(let e) {
            throw XCTSkip("runc cannot run a user-namespaced container here: \(e.message)")
        }
        _ = try shim.start()
        XCTAssertEqual(try shim.wait().exitCode, 0)
        let log = try shim.logText()
        XCTAssertTrue(log.contains("100000"), log)
        var st = stat()
        XCTAssertEqual(stat(shim.stateDir, &st), 0)
        XCTAssertEqual(st.st_mode & 0o111, 0o111, "the state dir was made traversable for the mapped root")
    }

    // --- helpers ---------------------------------------------------------------

    private func bindTCP(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0, listen(fd, 1) == 0 else {
            close(fd)
            throw TestSupport.SupportError("cannot bind port \(port)")
        }
        return fd
    }

    private func canBind(_ port: Int) -> Bool {
        guard let fd = try? bindTCP(port) else { return false }
        close(fd)
        return true
    }

    private func freeTCPPort() throws -> Int {
        let fd = try bindTCP(0)
        defer { close(fd) }
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    private func readable(_ fd: Int32, timeoutMillis: Int32 = 100) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, timeoutMillis) == 1
    }

    /// `ocishim --version` says how this build reaches libselinux, and calls
    /// it: this test binary's shim is a dynamic (debug) build, which loads it.
    func testVersionNamesTheBuildsLibselinux() throws {
        let (status, output) = try TestSupport.run(try TestSupport.ocishim(), ["--version"])
        XCTAssertEqual(status, 0)
        let lines = output.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("ocishim version 0.") == true, output)
        XCTAssertTrue(lines.count == 2 && lines[1].hasPrefix("libselinux: libselinux.so.1 loaded at run time where selinuxfs exists; "), output)
        XCTAssertTrue(lines[1].hasSuffix("is_selinux_enabled() = 0") || lines[1].hasSuffix("is_selinux_enabled() = 1")
                      || lines[1].hasSuffix("not installed: SELinux disabled"), output)
    }
}
