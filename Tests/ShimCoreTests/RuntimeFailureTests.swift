@testable import ShimCore
import XCTest

/// How a runtime's error text is classified (podman's getOCIRuntimeError,
/// narrowed): the messages are runc 1.1's and crun's own words.
final class RuntimeFailureTests: XCTestCase {
    private let missingBinary = #"runc create failed: unable to start container process: exec: "/no/such/binary": stat /no/such/binary: no such file or directory"#
    private let notInPath = #"exec failed: unable to start container process: exec: "nosuch": executable file not found in $PATH"#
    private let notExecutable = #"exec failed: unable to start container process: exec: "/etc/passwd": permission denied"#
    private let missingRootfs = "runc create failed: invalid rootfs: stat /tmp/b/nope: no such file or directory"
    private let missingCwd = #"exec failed: unable to start container process: chdir to cwd ("/nonexistent") set in config.json failed: no such file or directory"#

    func testAMissingExecutableIsACommandNotFound() {
        for message in [missingBinary, notInPath, "executable file `nosuch` not found in $PATH: No such file or directory"] {
            let error = RuntimeFailure.classify(message)
            XCTAssertEqual(error.kind, .commandNotFound, message)
            XCTAssertEqual(error.message, message + ": OCI runtime attempted to invoke a command that was not found")
            XCTAssertEqual(error.runtimeMessage, message)
        }
    }

    func testAnExecutableThatCannotBeRunIsNotExecutable() {
        for message in [notExecutable, "exec the container process (`/etc/passwd`): Permission denied"] {
            let error = RuntimeFailure.classify(message)
            XCTAssertEqual(error.kind, .commandNotExecutable, message)
            XCTAssertEqual(error.message, message + ": OCI permission denied")
        }
    }

    /// Issue 14, item 8: "no such file or directory" about something else
    /// than the executable is not "a command that was not found".
    func testOtherMissingFilesAreRuntimeErrors() {
        for message in [missingRootfs, missingCwd] {
            let error = RuntimeFailure.classify(message)
            XCTAssertEqual(error.kind, .runtimeFailed, message)
            XCTAssertEqual(error.message, message + ": OCI runtime error")
        }
    }

    func testTheOtherCategoriesAreUnchanged() {
        XCTAssertEqual(RuntimeFailure.classify("container with id exists: c1").kind, .alreadyExists)
        XCTAssertEqual(RuntimeFailure.classify("container does not exist").kind, .noSuchContainer)
        let denied = RuntimeFailure.classify("write /sys/fs/cgroup/x: operation not permitted")
        XCTAssertEqual(denied.kind, .permissionDenied)
        XCTAssertTrue(denied.message.hasSuffix(": OCI permission denied"), denied.message)
    }
}
