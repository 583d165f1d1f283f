import Foundation
import Glibc
import ShimSystem
import ShimProtocol

/// 100-byte lines at full speed into the k8s-file log: no line is shorter
/// than the shim's buffer, so none should be split into P + F records
/// ("Log integrity: no spurious partial lines" of issue "Trust defects";
/// containerd's CRI logger splits none, conmon about 11,800 per million).
enum PartialLines {
    static func run(_ lab: Lab, _ report: Report) throws {
        let lines = lab.scaled(200_000, 1_000_000)
        let text = String(repeating: "y", count: 99)
        let bundle = try lab.bundle(["sh", "-c", "yes \(text) | head -n \(lines)"])
        let shim = try ShimUnderTest(lab, tag: "partial")
        defer { shim.destroy() }
        try shim.run(bundle: bundle)
        let exit: Ocishim_V1_WaitResponse = try shim.client.call("Wait", Ocishim_V1_WaitRequest(), timeoutSeconds: 120)
        let log = K8sLog(path: shim.stateDir + "/ctr.log")
        let whole = log.lines().filter { $0 == text }.count
        let partial = log.partialRecords
        report.tried("\(lines) lines of 100 bytes (yes | head), exit \(exit.exitCode)")
        report.found("\(log.records.count) records, \(partial) of them partial (P): \(String(format: "%.0f", Double(partial) * 1e6 / Double(lines))) per million lines; \(whole) whole lines after joining")
        report.expect(whole == lines && log.malformed.isEmpty, "every line is in the log, whole")
        report.expect(partial == 0, "no line shorter than the buffer is split into P + F records")
    }
}
