import Foundation
import Glibc
import ShimSystem
import ShimProtocol
import SwiftProtobuf

/// Bundles whose config.json is not a file: a FIFO (no writer ever comes),
/// and a symlink to /dev/zero (endless). Create must answer with a clear
/// error within 5 s (10 s in a full run), and the shim must keep answering State meanwhile
/// (issue "Trust defects" item 3: "A config.json that is a FIFO hangs
/// Create").
enum ConfigFIFO {
    static func run(_ lab: Lab, _ report: Report) throws {
        for variant in ["a FIFO", "a symlink to /dev/zero"] {
            let bundle = try lab.directory("fifo-bundle")
            try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
            let config = bundle + "/config.json"
            if variant == "a FIFO" {
                guard mkfifo(config, 0o644) == 0 else { throw TortureError("mkfifo \(config): \(String(cString: strerror(errno)))") }
            } else {
                guard symlink("/dev/zero", config) == 0 else { throw TortureError("symlink \(config)") }
            }
            let shim = try ShimUnderTest(lab, tag: "fifo-config")
            let request = shim.createRequest(bundle: bundle)
            let payload = (try? request.serializedBytes()) ?? []
            let outcome = FuzzCall.call(shim, method: "Create", kind: .unary, payload: payload, bound: lab.scaled(5.0, 10.0))
            report.tried("Create with a bundle whose config.json is \(variant)")
            report.found("Create: \(outcome.summary)")
            switch outcome {
            case .answered(let code, let message):
                report.expect(code != 0 && !message.isEmpty, "Create fails with a clear error")
            default:
                report.fail("Create answers within \(Int(lab.scaled(5.0, 10.0))) s with an error (the shim: \(shim.isAlive ? ProcInfo.whereBlocked(shim.pid) : shim.describeEnd()))")
            }
            // A reader blocked on the FIFO gets EOF once a writer comes and goes.
            if variant == "a FIFO" {
                let w = open(config, O_WRONLY | O_NONBLOCK)
                if w >= 0 { close(w) }
            }
            shim.destroy(ask: shim.answers(within: 3) == nil)
        }
    }
}
