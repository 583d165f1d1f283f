import Glibc
import XCTest
@testable import ShimCore

final class RuntimeEnvironmentTests: XCTestCase {
    /// Without HOME, the runtime gets the shim user's home from /etc/passwd,
    /// read directly (the static shim has no NSS); it must agree with what
    /// getpwuid (NSS, in this dynamically linked test) says.
    func testHomeWithoutHOMEComesFromThePasswdFile() throws {
        guard let pw = getpwuid(geteuid()), let dir = pw.pointee.pw_dir else {
            throw XCTSkip("uid \(geteuid()) has no passwd entry on this machine")
        }
        let saved = getenv("HOME").map { String(cString: $0) }
        unsetenv("HOME")
        defer { if let saved { setenv("HOME", saved, 1) } }
        let environment = RuntimeEnvironment.fromProcess()
        XCTAssertTrue(environment.variables.contains("HOME=\(String(cString: dir))"), "\(environment.variables)")
    }

    func testHOMEWhenSetIsPassedThrough() {
        let saved = getenv("HOME").map { String(cString: $0) }
        setenv("HOME", "/some/where", 1)
        defer { if let saved { setenv("HOME", saved, 1) } else { unsetenv("HOME") } }
        XCTAssertTrue(RuntimeEnvironment.fromProcess().variables.contains("HOME=/some/where"))
    }
}
