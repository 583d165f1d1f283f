import ContainerdProtocol
import Foundation
import Glibc
import ShimClient
import ShimProtocol
import SwiftProtobuf
import XCTest

/// The runtime options on real runc: IoUid/IoGid (the owner of the stdio
/// pipes), CriuPath (runc's --criu), and CRI's generic options naming a
/// config file (ConfigPath) that holds them.
extension ContainerdShimTests {
    /// A container in a user namespace (its root is host uid and gid
    /// 100000) that prints the owner of its stdout pipe and reopens it by
    /// path. runc makes the init's stdio the container user's where it can
    /// (fixStdioPermissions), but a pipe of the host's root is not mapped in
    /// the namespace: only IoUid/IoGid make it the container's.
    private func reopeningContainer() throws -> ContainerdShimHarness {
        try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "stat -L -c owner=%u:%g /proc/self/fd/1; echo reopened > /dev/stdout"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            var namespaces = linux["namespaces"] as? [[String: Any]] ?? []
            namespaces.append(["type": "user"])
            linux["namespaces"] = namespaces
            linux["uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
            linux["gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
            config["linux"] = linux
        }
    }

    /// Create with `options`, run to the end; the container's stdout and
    /// stderr.
    private func run(_ shim: ContainerdShimHarness, options: Google_Protobuf_Any?) throws -> (out: String, err: String) {
        try shim.start()
        let stdout = try shim.makeFIFO("out"), stderr = try shim.makeFIFO("err")
        let out = open(stdout, O_RDONLY | O_NONBLOCK), err = open(stderr, O_RDONLY | O_NONBLOCK)
        defer { close(out); close(err) }
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest {
            $0.stdout = stdout
            $0.stderr = stderr
            if let options { $0.options = options }
        })
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        _ = try shim.wait()
        for fd in [out, err] { _ = fcntl(fd, F_SETFL, 0) }
        let text = { (fd: Int32) in String(decoding: FileHandle(fileDescriptor: fd).readDataToEndOfFile(), as: UTF8.self) }
        return (text(out), text(err))
    }

    func testIoUidAndIoGidMakeTheStdioPipesTheContainersOwn() throws {
        // Without them the pipes are the host root's, unmapped (the
        // overflow ids): the container cannot reopen its stdout.
        let plain = try run(try reopeningContainer(), options: nil)
        XCTAssertEqual(plain.out, "owner=65534:65534\n")
        XCTAssertTrue(plain.err.contains("Permission denied"), plain.err)

        var runc = Containerd_Runc_V1_Options()
        runc.ioUid = 100000
        runc.ioGid = 100000
        let shim = try reopeningContainer()
        let owned = try run(shim, options: try TypeURL.pack(runc))
        XCTAssertEqual(owned.out, "owner=0:0\nreopened\n")
        XCTAssertEqual(owned.err, "")

        // An exec's pipes too.
        let execOut = try shim.makeFIFO("exec-out")
        let reader = open(execOut, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        // (The container has exited: a new one of the same shim execs.)
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })
        try shim.bundle.editConfig { config in
            var process = config["process"] as? [String: Any] ?? [:]
            process["args"] = ["/bin/sleep", "1000"]
            config["process"] = process
        }
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest { $0.options = try! TypeURL.pack(runc) })
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        let spec = #"{"args":["/bin/sh","-c","echo exec-reopened > /dev/stdout"],"cwd":"/","user":{"uid":0,"gid":0}}"#
        try shim.exec("in-userns", spec: spec) { $0.stdout = execOut }
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id; $0.execID = "in-userns" })
        XCTAssertEqual(try shim.wait("in-userns").exitStatus, 0)
        _ = fcntl(reader, F_SETFL, 0)
        XCTAssertEqual(String(decoding: FileHandle(fileDescriptor: reader).readDataToEndOfFile(), as: UTF8.self), "exec-reopened\n")
        let _: Google_Protobuf_Empty = try shim.call("Kill", Containerd_Task_V2_KillRequest.with { $0.id = shim.id; $0.signal = 9 })
        XCTAssertEqual(try shim.wait().exitStatus, 137)
    }

    /// CRI's options for a runtime type it does not know: a config file of
    /// runc's options (here a runtime wrapper, --criu and the pipes' owner).
    func testCRIsConfigFileGivesTheRuncOptions() throws {
        let shim = try reopeningContainer()
        let calls = shim.dir + "/runc-calls"
        let wrapper = shim.dir + "/runc-wrapper"
        try "#!/bin/sh\necho \"$@\" >> \(calls)\nexec /usr/sbin/runc \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        let config = shim.dir + "/ocishim.toml"
        try """
            # runc.v2's options, for ocishim through CRI
            BinaryName = "\(wrapper)"
            CriuPath = '/usr/sbin/criu'   # runc's --criu
            IoUid = 100_000
            iogid = 100000

            """.write(toFile: config, atomically: true, encoding: .utf8)
        var cri = Runtimeoptions_V1_Options()
        cri.configPath = config
        let result = try run(shim, options: try TypeURL.pack(cri))
        XCTAssertEqual(result.out, "owner=0:0\nreopened\n")
        let runcCalls = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
        XCTAssertTrue(runcCalls.split(separator: "\n").contains { $0.contains("--criu /usr/sbin/criu") && $0.contains(" create ") },
                      "runc create through the wrapper, with --criu: \(runcCalls)")

        // A file it cannot read is a clear InvalidArgument naming it.
        let broken = try ContainerdShimHarness(self, args: ["/bin/true"])
        try broken.start()
        cri.configPath = broken.dir + "/missing.toml"
        let error = try XCTUnwrap(try broken.failure("Create", broken.createRequest { $0.options = try! TypeURL.pack(cri) }))
        XCTAssertEqual(error.code, .invalidArgument)
        XCTAssertTrue(error.message.contains(broken.dir + "/missing.toml"), error.message)
    }
}
