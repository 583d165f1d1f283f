import ContainerdProtocol
import Foundation
import Glibc
import ShimClient
import ShimProtocol
import SwiftProtobuf
import XCTest

/// `binary://` stdio URIs on real runc: the logging binary gets the
/// process's stdout and stderr on fds 3 and 4, says it is ready on fd 5,
/// and is stopped at Delete, as containerd's runc shim runs it
/// (pkg/process/io.go). Scripts/containerd-scenarios compares `ctr run
/// --log-uri binary://...` with runc.v2's.
extension ContainerdShimTests {
    /// A logging binary (a shell script) that records its environment and
    /// arguments in DIR, copies fd 3 and fd 4 into DIR/out and DIR/err,
    /// and writes DIR/done once both ended. `beforeReady` runs before it
    /// says it is ready.
    private func makeLogger(in dir: String, beforeReady: String = "") throws -> String {
        let path = dir + "/logger"
        let script = """
            #!/bin/sh
            d=$2
            { echo "id=$CONTAINER_ID ns=$CONTAINER_NAMESPACE"; echo "argc=$#"; for a in "$@"; do echo "arg=$a"; done; \
            echo "env=$(/usr/bin/env | /usr/bin/sort | /usr/bin/tr '\\n' ' ')"; } > "$d/env"
            /bin/cat <&3 > "$d/out" &
            /bin/cat <&4 > "$d/err" &
            exec 3<&- 4<&-
            \(beforeReady)
            printf r >&5
            exec 5>&-
            wait
            echo done > "$d/done"

            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    private func contents(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<missing \(path)>"
    }

    func testABinaryLogURIRunsTheLoggerWithTheOutputAndWaitsForItToBeReady() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 2"])
        let logs = shim.dir + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: false)
        // Slow to get ready: Create answers only once it is.
        let logger = try makeLogger(in: shim.dir, beforeReady: "/bin/sleep 0.5; echo > \"$d/ready\"")
        try shim.start()
        let uri = "binary://\(logger)?dir=\(logs)&-flag&x=1&x=2&sp=a+b%21"
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest {
            $0.stdout = uri
            $0.stderr = uri
        })
        XCTAssertTrue(FileManager.default.fileExists(atPath: logs + "/ready"), "Create answered before the logger was ready")
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        XCTAssertEqual(try shim.wait().exitStatus, 2)
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: logs + "/done") },
                      "the logger never saw the end of the output")
        XCTAssertEqual(contents(logs + "/out"), "to-out\n")
        XCTAssertEqual(contents(logs + "/err"), "to-err\n")
        let env = contents(logs + "/env")
        XCTAssertTrue(env.hasPrefix("id=\(shim.id) ns=\(shim.namespace)\n"), env)
        // Each query key, then its first value ("" for none), in order.
        XCTAssertTrue(env.contains("argc=8\narg=dir\narg=\(logs)\narg=-flag\narg=\narg=x\narg=1\narg=sp\narg=a b!\n"), env)
        XCTAssertTrue(env.contains("env=CONTAINER_ID=\(shim.id) CONTAINER_NAMESPACE=\(shim.namespace) "), env)
        XCTAssertFalse(env.contains("PATH=") || env.contains("HOME=") || env.contains("TTRPC_ADDRESS="),
                       "the environment is those two only, not the shim's: \(env)")
        XCTAssertEqual(try shim.state().stdout, uri)
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })
    }

    func testDeleteStopsALoggerThatIsStillRunningAndAnswersOnceItExited() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/true"])
        let marks = shim.dir + "/marks"
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: false)
        // Reads nothing and never ends by itself; leaves on SIGTERM, slowly.
        let logger = shim.dir + "/stubborn"
        try """
            #!/bin/sh
            trap '/bin/sleep 0.3; echo term > "$2/term"; exit 0' TERM
            printf r >&5
            while :; do /bin/sleep 0.1; done

            """.write(toFile: logger, atomically: true, encoding: .utf8)
        chmod(logger, 0o755)
        try shim.start()
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest {
            $0.stdout = "binary://\(logger)?dir=\(marks)"
        })
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        XCTAssertEqual(try shim.wait().exitStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marks + "/term"))
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id })
        XCTAssertEqual(contents(marks + "/term"), "term\n", "Delete answered before the logger had handled SIGTERM and exited")
        XCTAssertNotNil(shim.events.waitFor("/tasks/delete", of: shim.id))
    }

    func testAnExecsLoggerIsNamedByTheExecIDAndATerminalsOutputIsAllOnFd3() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/sleep", "1000"])
        let execLogs = shim.dir + "/exec-logs", ttyLogs = shim.dir + "/tty-logs"
        for dir in [execLogs, ttyLogs] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false) }
        let logger = try makeLogger(in: shim.dir)
        try shim.start()
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest())
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        let exec = { (execID: String, dir: String, terminal: Bool, script: String) throws in
            let spec = #"{"args":["/bin/sh","-c","\#(script)"],"cwd":"/","env":["PATH=/bin"],"terminal":\#(terminal),"user":{"uid":0,"gid":0}}"#
            try shim.exec(execID, spec: spec) {
                $0.terminal = terminal
                $0.stdout = "binary://\(logger)?dir=\(dir)"
                $0.stderr = terminal ? "" : "binary://\(logger)?dir=\(dir)"
            }
            let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id; $0.execID = execID })
        }
        try exec("logged", execLogs, false, "echo exec-out; echo exec-err >&2; exit 4")
        XCTAssertEqual(try shim.wait("logged").exitStatus, 4)
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: execLogs + "/done") })
        XCTAssertEqual(contents(execLogs + "/out"), "exec-out\n")
        XCTAssertEqual(contents(execLogs + "/err"), "exec-err\n")
        XCTAssertTrue(contents(execLogs + "/env").hasPrefix("id=logged ns=\(shim.namespace)\n"), "CONTAINER_ID is the exec id, as runc.v2 sets it")
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id; $0.execID = "logged" })

        try exec("tty", ttyLogs, true, "test -t 1 && echo on-a-tty; echo tty-err >&2")
        XCTAssertEqual(try shim.wait("tty").exitStatus, 0)
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: ttyLogs + "/done") })
        XCTAssertEqual(contents(ttyLogs + "/out"), "on-a-tty\r\ntty-err\r\n")
        XCTAssertEqual(contents(ttyLogs + "/err"), "", "a terminal has no stderr of its own: fd 4 ends at once")
        let _: Containerd_Task_V2_DeleteResponse = try shim.call("Delete", Containerd_Task_V2_DeleteRequest.with { $0.id = shim.id; $0.execID = "tty" })
        let _: Google_Protobuf_Empty = try shim.call("Kill", Containerd_Task_V2_KillRequest.with { $0.id = shim.id; $0.signal = 9 })
        XCTAssertEqual(try shim.wait().exitStatus, 137)
    }

    func testALoggerThatCannotStartFailsTheCreateAndLeavesNothing() throws {
        let shim = try ContainerdShimHarness(self, args: ["/bin/true"])
        try shim.start()
        let error = try XCTUnwrap(try shim.failure("Create", shim.createRequest { $0.stdout = "binary:///nonexistent/logger" }))
        XCTAssertEqual(error.code, .unknown)
        XCTAssertTrue(error.message.hasPrefix("failed to create init process I/O: failed to start binary process: "), error.message)
        XCTAssertTrue(error.message.contains("/nonexistent/logger"), error.message)
        XCTAssertEqual(try shim.failure("State", Containerd_Task_V2_StateRequest.with { $0.id = shim.id })?.code, .notFound)
        // The same container can be created once its logger exists.
        let logs = shim.dir + "/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: false)
        let logger = try makeLogger(in: shim.dir)
        let _: Containerd_Task_V2_CreateTaskResponse = try shim.call("Create", shim.createRequest { $0.stdout = "binary://\(logger)?dir=\(logs)" })
        let _: Containerd_Task_V2_StartResponse = try shim.call("Start", Containerd_Task_V2_StartRequest.with { $0.id = shim.id })
        XCTAssertEqual(try shim.wait().exitStatus, 0)
    }
}
