import ContainerdProtocol
import Foundation
import Glibc
import ShimClient
import ShimProtocol
import SwiftProtobuf
import XCTest

/// containerd-shim-ocishim-v1 on real runc, driven as containerd drives its
/// shims (runtime/v2: binary.go, shim.go) with a recording events service in
/// containerd's place: the binary protocol (start, delete), the task API,
/// FIFO stdio, events, and their delivery after containerd comes back.
/// Scripts/containerd-scenarios runs the same through containerd itself.
final class ContainerdShimTests: XCTestCase {
    typealias Empty = Google_Protobuf_Empty

    private func readAll(_ path: String) -> String {
        // Opened before the writer (as ctr opens its FIFOs); read to EOF.
        guard let handle = FileHandle(forReadingAtPath: path) else { return "<cannot open \(path)>" }
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }

    func testStartPrintsTheAddressWritesItAndServesTheTaskAPI() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/true"])
        try shim.start()
        XCTAssertTrue(shim.address.hasPrefix("unix:///run/containerd/s/"), shim.address)
        XCTAssertEqual(shim.address.count, "unix:///run/containerd/s/".count + 64, "a sha256 in hex: \(shim.address)")
        XCTAssertEqual(try String(contentsOfFile: shim.bundle.path + "/address", encoding: .utf8), shim.address)
        XCTAssertTrue(ContainerdShimHarness.alive(shim.shimPid))
        let error = try XCTUnwrap(try shim.failure("State", Containerd_Task_V2_StateRequest.with { $0.id = shim.id }))
        XCTAssertEqual(error.code, .notFound)
        XCTAssertEqual(error.message, "container not created")

        // A second start for the same id finds the live shim.
        let (status, out, _) = try shim.runBinary(shim.commonArguments + ["start"])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), shim.address)

        // Shutdown without a container: the shim exits and its socket goes.
        let _: Empty = try shim.call("Shutdown", Containerd_Task_V2_ShutdownRequest.with { $0.id = shim.id })
        XCTAssertTrue(TestSupport.eventually { !ContainerdShimHarness.alive(shim.shimPid) }, "the shim did not exit")
        XCTAssertFalse(FileManager.default.fileExists(atPath: shim.socketPath))
    }

    func testARunWithFIFOStdioExitsAndItsEventsReachContainerd() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "read x; echo out-$x; echo err-$x >&2; exit 3"])
        try shim.start()
        let stdin = try shim.makeFIFO("stdin"), stdout = try shim.makeFIFO("stdout"), stderr = try shim.makeFIFO("stderr")
        // ctr's readers, open before Create.
        let outReader = open(stdout, O_RDONLY | O_NONBLOCK), errReader = open(stderr, O_RDONLY | O_NONBLOCK)
        defer { close(outReader); close(errReader) }
        let created: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest {
            $0.stdin = stdin
            $0.stdout = stdout
            $0.stderr = stderr
        })
        XCTAssertGreaterThan(created.pid, 0)
        XCTAssertEqual(try shim.state().status, .created)
        let started: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        XCTAssertEqual(started.pid, created.pid)
        // ctr's writer: write, close, CloseIO.
        let writer = open(stdin, O_WRONLY)
        _ = "hi\n".withCString { write(writer, $0, 3) }
        close(writer)
        let _: Empty = try shim.call("CloseIO", Containerd_Task_V2_CloseIORequest.with { $0.id = shim.id; $0.stdin = true })

        let waited = try shim.wait()
        XCTAssertEqual(waited.exitStatus, 3)
        XCTAssertGreaterThan(waited.exitedAt.seconds, 0)
        _ = fcntl(outReader, F_SETFL, 0)
        _ = fcntl(errReader, F_SETFL, 0)
        XCTAssertEqual(String(decoding: FileHandle(fileDescriptor: outReader).readDataToEndOfFile(), as: UTF8.self), "out-hi\n")
        XCTAssertEqual(String(decoding: FileHandle(fileDescriptor: errReader).readDataToEndOfFile(), as: UTF8.self), "err-hi\n")
        let state = try shim.state()
        XCTAssertEqual(state.status, .stopped)
        XCTAssertEqual(state.exitStatus, 3)
        XCTAssertEqual(state.stdout, stdout)
        let deleted: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })
        XCTAssertEqual(deleted.exitStatus, 3)
        XCTAssertEqual(deleted.pid, created.pid)

        XCTAssertNotNil(shim.events.waitFor("/tasks/delete", of: shim.id))
        XCTAssertEqual(shim.topics, ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"])
        let exit = try XCTUnwrap(shim.events.received.first { $0.topic == "/tasks/exit" })
        XCTAssertEqual(exit.typeURL, "containerd.events.TaskExit")
        XCTAssertEqual(exit.namespace, shim.namespace)
        XCTAssertEqual(exit.metadataNamespace, shim.namespace)
        let taskExit = try Containerd_Events_TaskExit(serializedBytes: exit.value)
        XCTAssertEqual(taskExit.id, shim.id, "the init's exit names the container")
        XCTAssertEqual(taskExit.exitStatus, 3)
        XCTAssertEqual(taskExit.pid, created.pid)
        let create = try Containerd_Events_TaskCreate(serializedBytes: try XCTUnwrap(shim.events.received.first).value)
        XCTAssertEqual(create.io.stdout, stdout)
        XCTAssertEqual(create.bundle, shim.bundle.path)

        let _: Empty = try shim.call("Shutdown", Containerd_Task_V2_ShutdownRequest.with { $0.id = shim.id })
        XCTAssertTrue(TestSupport.eventually { !ContainerdShimHarness.alive(shim.shimPid) }, "the shim did not exit after Delete and Shutdown")
    }

    func testAnExecIsRegisteredThenStartedAndCleanedUpByDelete() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sleep", "1000"])
        try shim.start()
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        let stdout = try shim.makeFIFO("exec-out")
        let reader = open(stdout, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        let spec = #"{"args":["/bin/sh","-c","echo exec-out; exit 5"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}"#
        try shim.exec("e1", spec: spec) { $0.stdout = stdout }
        let registered = try shim.state("e1")
        XCTAssertEqual(registered.status, .created)
        XCTAssertEqual(registered.pid, 0)
        XCTAssertEqual(registered.id, "e1")
        XCTAssertEqual(try shim.failure("Exec", shim.execRequest("e1", spec: spec))?.code, .alreadyExists)

        let started: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id; $0.execID = "e1" })
        XCTAssertGreaterThan(started.pid, 0)
        XCTAssertEqual(try shim.wait("e1").exitStatus, 5)
        _ = fcntl(reader, F_SETFL, 0)
        XCTAssertEqual(String(decoding: FileHandle(fileDescriptor: reader).readDataToEndOfFile(), as: UTF8.self), "exec-out\n")
        let deleted: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id; $0.execID = "e1" })
        XCTAssertEqual(deleted.exitStatus, 5)
        XCTAssertEqual(deleted.pid, started.pid)
        XCTAssertEqual(try shim.failure("State", Containerd_Task_V2_StateRequest.with { $0.id = shim.id; $0.execID = "e1" })?.code, .notFound)

        XCTAssertNotNil(shim.events.waitFor("/tasks/exit", of: shim.id))
        XCTAssertEqual(shim.topics, ["/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started", "/tasks/exit"])
        let exit = try Containerd_Events_TaskExit(serializedBytes: try XCTUnwrap(shim.events.received.last).value)
        XCTAssertEqual(exit.id, "e1")
        XCTAssertEqual(exit.exitStatus, 5)

        // Pids names a running exec's process.
        try shim.exec("e2", spec: #"{"args":["/bin/sleep","1000"],"cwd":"/","user":{"uid":0,"gid":0}}"#)
        let e2: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id; $0.execID = "e2" })
        let pids: Containerd_Task_V2_PidsResponse = try shim.call("Pids", Containerd_Task_V2_PidsRequest.with { $0.id = shim.id })
        let execInfo = try XCTUnwrap(pids.processes.first { $0.pid == e2.pid })
        XCTAssertEqual(execInfo.info.typeURL, TypeURL.processDetails)
        XCTAssertEqual(try Containerd_Runc_V1_ProcessDetails(serializedBytes: [UInt8](execInfo.info.value)).execID, "e2")
        XCTAssertEqual(try shim.failure("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id; $0.execID = "e2" })?.code,
                       .failedPrecondition, "a running exec is not deleted")
    }

    func testKillAndAFinishedProcess() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sleep", "1000"])
        try shim.start()
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        XCTAssertEqual(try shim.failure("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })?.code, .failedPrecondition)
        let _: Empty = try shim.call("Kill", Containerd_Task_V2_KillRequest.with { $0.id = shim.id; $0.signal = 9; $0.all = true })
        XCTAssertEqual(try shim.wait().exitStatus, 137)
        let again = try XCTUnwrap(try shim.failure("Kill", Containerd_Task_V2_KillRequest.with { $0.id = shim.id; $0.signal = 9 }))
        XCTAssertEqual(again.code, .notFound)
        XCTAssertEqual(again.message, "process already finished")
    }

    func testAnExitWhileContainerdIsAwayIsPublishedWhenItIsBack() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "sleep 0.5; exit 4"])
        try shim.start()
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        XCTAssertNotNil(shim.events.waitFor("/tasks/start", of: shim.id))
        shim.events.stop()
        XCTAssertEqual(try shim.wait().exitStatus, 4)
        usleep(500_000)
        XCTAssertFalse(shim.topics.contains("/tasks/exit"))
        try shim.events.listen()
        let exit = try XCTUnwrap(shim.events.waitFor("/tasks/exit", of: shim.id, seconds: 20), "the exit was never published")
        XCTAssertEqual(try Containerd_Events_TaskExit(serializedBytes: exit.value).exitStatus, 4)
        XCTAssertEqual(shim.topics.filter { $0 == "/tasks/exit" }.count, 1, "published once")
    }

    func testDeleteCleansUpAfterADeadShim() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sleep", "1000"])
        try shim.start()
        let created: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        kill(shim.shimPid, SIGKILL)
        XCTAssertTrue(TestSupport.eventually { !ContainerdShimHarness.alive(shim.shimPid) })

        let (status, out, err) = try shim.runBinary(shim.commonArguments + ["-bundle", shim.bundle.path, "delete"])
        XCTAssertEqual(status, 0, err)
        let response = try Containerd_Task_V2_DeleteResponse(serializedBytes: [UInt8](out))
        XCTAssertEqual(response.exitStatus, 137)
        XCTAssertEqual(response.pid, created.pid)
        XCTAssertGreaterThan(response.exitedAt.seconds, 0)
        let runcState = try TestSupport.run("/usr/sbin/runc", ["--root", shim.runcRoot, "state", shim.id])
        XCTAssertNotEqual(runcState.status, 0, "runc still knows the container")
        XCTAssertFalse(ContainerdShimHarness.alive(Int32(created.pid)), "the container's process is still alive")
        XCTAssertFalse(FileManager.default.fileExists(atPath: shim.socketPath), "the dead shim's socket is left")
    }

    func testCommandLineErrorsAsContainerdsShimsReportThem() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/true"])
        let noNamespace = try shim.runBinary(["-id", shim.id, "start"])
        XCTAssertEqual(noNamespace.status, 1)
        XCTAssertEqual(noNamespace.stderr, "containerd-shim-ocishim-v1: shim namespace cannot be empty\n")
        let badFlag = try shim.runBinary(["-namespace", "n", "-nope", "start"])
        XCTAssertEqual(badFlag.status, 2)
        XCTAssertTrue(badFlag.stderr.contains("flag provided but not defined: -nope"), badFlag.stderr)
        let version = try shim.runBinary(["-v"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(String(decoding: version.stdout, as: UTF8.self).contains("Version:"))
    }

    func testStatsAreCgroupV1Metrics() throws {
        guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.stat") else {
            print("testStatsAreCgroupV1Metrics skipped: not a cgroup v1 host (no /sys/fs/cgroup/memory/memory.stat)")
            return
        }
        let shim = try ContainerdShimHarness(self, args: ["/bin/sleep", "1000"])
        try shim.start()
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        let stats: Containerd_Task_V2_StatsResponse = try shim.call("Stats", Containerd_Task_V2_StatsRequest.with { $0.id = shim.id })
        XCTAssertEqual(stats.stats.typeURL, "io.containerd.cgroups.v1.Metrics")
        let metrics = try Io_Containerd_Cgroups_V1_Metrics(serializedBytes: [UInt8](stats.stats.value))
        XCTAssertEqual(metrics.pids.current, 1)
        XCTAssertGreaterThan(metrics.memory.usage.usage, 0)
        XCTAssertGreaterThan(metrics.memory.usage.limit, 0)
        XCTAssertGreaterThan(metrics.cpu.usage.total, 0)
        XCTAssertFalse(metrics.cpu.usage.perCpu.isEmpty)
    }

    func testATerminalIsRelayedAndResized() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "test -t 1 && echo tty-yes; sleep 0.5; stty size"], terminal: true)
        try shim.start()
        let stdout = try shim.makeFIFO("tty-out")
        let reader = open(stdout, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest { $0.terminal = true; $0.stdout = stdout })
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        let _: Empty = try shim.call("ResizePty", Containerd_Task_V2_ResizePtyRequest.with { $0.id = shim.id; $0.width = 91; $0.height = 17 })
        XCTAssertEqual(try shim.wait().exitStatus, 0)
        _ = fcntl(reader, F_SETFL, 0)
        let text = String(decoding: FileHandle(fileDescriptor: reader).readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(text, "tty-yes\r\n17 91\r\n")
    }

    func testRootfsMountsAreMountedForTheContainerAndUnmountedOnDelete() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "cat /marker"])
        // The rootfs comes from a mount, as containerd's snapshotters give it.
        let image = shim.dir + "/image"
        try FileManager.default.moveItem(atPath: shim.bundle.rootfs, toPath: image)
        try FileManager.default.createDirectory(atPath: shim.bundle.rootfs, withIntermediateDirectories: false)
        try "from-the-mount\n".write(toFile: image + "/marker", atomically: true, encoding: .utf8)
        try shim.start()
        let stdout = try shim.makeFIFO("out")
        let reader = open(stdout, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest {
            $0.stdout = stdout
            $0.rootfs = [Containerd_Types_Mount.with { $0.type = "bind"; $0.source = image; $0.options = ["rbind", "rw"] }]
        })
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        XCTAssertEqual(try shim.wait().exitStatus, 0)
        _ = fcntl(reader, F_SETFL, 0)
        XCTAssertEqual(String(decoding: FileHandle(fileDescriptor: reader).readDataToEndOfFile(), as: UTF8.self), "from-the-mount\n")
        let mounts = { (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "" }
        XCTAssertTrue(mounts().contains(" \(shim.bundle.rootfs) "))
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })
        XCTAssertFalse(mounts().contains(" \(shim.bundle.rootfs) "), "the rootfs is still mounted after Delete")
    }
}

extension ContainerdShimTests {
    func testUpdateChangesTheContainersResources() throws {
        guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/cgroup.procs") else {
            throw XCTSkip("no cgroup v1 pids hierarchy to read the limit back from")
        }
        let shim = try ContainerdShimHarness(self, args: ["/bin/sleep", "1000"])
        try shim.start()
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        let _: Empty = try shim.call("Update", Containerd_Task_V2_UpdateTaskRequest.with {
            $0.id = shim.id
            $0.resources.typeURL = TypeURL.ociLinuxResources
            $0.resources.value = Data(#"{"pids":{"limit":123}}"#.utf8)
        })
        let stats: Containerd_Task_V2_StatsResponse = try shim.call("Stats", Containerd_Task_V2_StatsRequest.with { $0.id = shim.id })
        XCTAssertEqual(try Io_Containerd_Cgroups_V1_Metrics(serializedBytes: [UInt8](stats.stats.value)).pids.limit, 123)
        let wrongType = try shim.failure("Update", Containerd_Task_V2_UpdateTaskRequest.with {
            $0.id = shim.id
            $0.resources.typeURL = "example.Resources"
        })
        XCTAssertEqual(wrongType?.code, .invalidArgument)
    }

    func testCheckpointWithExitThenCreateFromTheCheckpointCountsOn() throws {
        let criu = CRIU.check()
        guard criu.works else {
            throw XCTSkip("criu check fails on this kernel, so runc cannot checkpoint: \(criu.output)")
        }
        let shim = try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"])
        try shim.start()
        let firstOut = try shim.makeFIFO("first-out")
        let first = open(firstOut, O_RDONLY | O_NONBLOCK)
        defer { close(first) }
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest { $0.stdout = firstOut })
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        var seen = ""
        XCTAssertTrue(readUntil(first, into: &seen, contains: "tick 3\n"))
        let image = shim.dir + "/checkpoint"
        var options = Containerd_Runc_V1_CheckpointOptions()
        options.exit = true
        let _: Empty = try shim.call("Checkpoint", Containerd_Task_V2_CheckpointTaskRequest.with {
            $0.id = shim.id
            $0.path = image
            $0.options = try! TypeURL.pack(options)
        })
        XCTAssertEqual(try shim.wait().exitStatus, 137, "CRIU ended the dumped container")
        XCTAssertTrue(FileManager.default.fileExists(atPath: image + "/inventory.img"), "CRIU wrote its images")
        _ = fcntl(first, F_SETFL, 0)
        seen += String(decoding: FileHandle(fileDescriptor: first).readDataToEndOfFile(), as: UTF8.self)
        let lastTick = try XCTUnwrap(seen.split(separator: "\n").last.flatMap { Int($0.split(separator: " ").last ?? "") })
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })

        // containerd's restore: Create with the checkpoint, new stdio.
        let secondOut = try shim.makeFIFO("second-out")
        let second = open(secondOut, O_RDONLY | O_NONBLOCK)
        defer { close(second) }
        let restored: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest {
            $0.stdout = secondOut
            $0.checkpoint = image
        })
        XCTAssertGreaterThan(restored.pid, 0)
        XCTAssertEqual(try shim.state().status, .running, "restored running")
        var counted = ""
        XCTAssertTrue(readUntil(second, into: &counted, contains: "tick \(lastTick + 2)\n"), "the restored shell did not count on: \(counted)")
        XCTAssertFalse(counted.contains("tick 1\n"), "restored, not restarted")
        let _: Empty = try shim.call("Kill", Containerd_Task_V2_KillRequest.with { $0.id = shim.id; $0.signal = 9 })
        XCTAssertEqual(try shim.wait().exitStatus, 137)
    }
}

extension ContainerdShimTests {
    func testContainersOfAGroupShareOneShim() throws {
        let group = "pod-\(UUID().uuidString.prefix(8).lowercased())"
        let annotate = { (config: inout [String: Any]) in config["annotations"] = ["io.kubernetes.cri.sandbox-id": group] }
        let shim = try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "exit 3"], edit: annotate)
        try shim.start()
        // The second container of the pod, in a bundle of its own.
        let second = "\(shim.id)-2"
        shim.otherIDs.append(second)
        let bundle2 = try BusyboxBundle.make(in: shim.dir + "/second", args: ["/bin/sh", "-c", "exit 4"], edit: annotate)
        var arguments = shim.commonArguments
        arguments[arguments.count - 1] = second
        let (status, out, err) = try shim.runBinary(arguments + ["start"], in: bundle2.path)
        XCTAssertEqual(status, 0, err)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), shim.address, "the group's shim")
        XCTAssertEqual(try String(contentsOfFile: bundle2.path + "/address", encoding: .utf8), shim.address)

        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", Containerd_Task_V2_CreateTaskRequest.with {
            $0.id = second
            $0.bundle = bundle2.path
        })
        for id in [shim.id, second] {
            let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = id })
        }
        XCTAssertEqual(try shim.wait().exitStatus, 3)
        let waited: Containerd_Task_V2_WaitResponse = try shim.call("Wait", Containerd_Task_V2_WaitRequest.with { $0.id = second })
        XCTAssertEqual(waited.exitStatus, 4)
        let connect: Containerd_Task_V2_ConnectResponse = try shim.call("Connect", Containerd_Task_V2_ConnectRequest.with { $0.id = second })
        XCTAssertEqual(Int32(connect.shimPid), shim.shimPid, "one shim process")
        XCTAssertTrue(FileManager.default.fileExists(atPath: bundle2.path + "/ocishim/state.json"), "its files in its own bundle")

        // The shim goes only once neither container is held.
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })
        let _: Google_Protobuf_Empty = try shim.call("Shutdown", Containerd_Task_V2_ShutdownRequest.with { $0.id = shim.id })
        usleep(300_000)
        XCTAssertTrue(ContainerdShimHarness.alive(shim.shimPid), "a shim with a container left went away")
        let deleted: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = second })
        XCTAssertEqual(deleted.exitStatus, 4)
        XCTAssertEqual(try shim.failure("State", Containerd_Task_V2_StateRequest.with { $0.id = second })?.code, .notFound)
        let _: Google_Protobuf_Empty = try shim.call("Shutdown", Containerd_Task_V2_ShutdownRequest.with { $0.id = second })
        XCTAssertTrue(TestSupport.eventually { !ContainerdShimHarness.alive(shim.shimPid) }, "the shim did not exit")
        XCTAssertNotNil(shim.events.waitFor("/tasks/delete", of: second))
        XCTAssertEqual(shim.events.received.filter { $0.containerID == second }.map(\.topic),
                       ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"])
    }
}

extension ContainerdShimTests {
    /// Reads what a non-blocking `fd` has into `text` until it contains
    /// `expected` (at most 10 s); whether it did.
    func readUntil(_ fd: Int32, into text: inout String, contains expected: String) -> Bool {
        TestSupport.eventually {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { text += String(decoding: buffer[0..<n], as: UTF8.self) }
            return text.contains(expected)
        }
    }
}

extension ContainerdShimHarness {
    /// Whether a process exists (not a zombie).
    static func alive(_ pid: Int32) -> Bool { ShimHarness.alive(pid) }
}
