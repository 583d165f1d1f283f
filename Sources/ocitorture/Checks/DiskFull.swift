import Foundation
import Glibc
import ShimSystem
import ShimClient
import ShimProtocol

/// The container's k8s-file log on a 1 MiB tmpfs (mounted for the check,
/// unmounted after), filled by the container. Must hold: the shim keeps
/// running and serving, reports the error (State.log_error, a LOG_ERROR
/// event), the log holds only whole records, and once space is freed the
/// shim logs again (State.log_error empty, LOG_RESUMED, the new lines in
/// the log).
enum DiskFull {
    static func run(_ lab: Lab, _ report: Report) throws {
        let dir = try lab.directory("disk-full")
        let mountPoint = dir + "/logfs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard mount("tmpfs", mountPoint, "tmpfs", 0, "size=1m,mode=0700") == 0 else {
            throw TortureError("mount tmpfs on \(mountPoint): \(String(cString: strerror(errno)))")
        }
        lab.cleanup.mount(mountPoint)
        let filler = mountPoint + "/filler"
        _ = FileManager.default.createFile(atPath: filler, contents: Data(repeating: 0x41, count: 256 << 10))

        let id = lab.uniqueID("enospc")
        let stop = "/stop-\(id)", resume = "/resume-\(id)"
        let script = "i=0; while [ ! -e \(stop) ]; do i=$((i+1)); echo \"line $i\"; done; "
            + "while [ ! -e \(resume) ]; do usleep 20000; done; j=0; while [ $j -lt 20 ]; do j=$((j+1)); echo \"after $j\"; done; sleep 1000000"
        let bundle = try lab.bundle(["sh", "-c", script])
        let rootfs = lab.rootfs(ofBundle: bundle)
        defer { unlink(rootfs + stop); unlink(rootfs + resume) }
        let logPath = mountPoint + "/ctr.log"
        let shim = try ShimUnderTest(lab, tag: "enospc", id: id)
        defer { shim.destroy() }
        try shim.run(bundle: bundle) {
            $0.log.drivers = [Ocishim_V1_LogDriver.with { $0.driver = "k8s-file"; $0.path = logPath }]
        }
        let client = shim.client
        func state() -> Ocishim_V1_StateResponse? { try? client.call("State", Ocishim_V1_StateRequest(), timeoutSeconds: 5) }

        var full: Ocishim_V1_StateResponse?
        let reported = lab.eventually(20) { full = state(); return full?.logError.isEmpty == false }
        _ = FileManager.default.createFile(atPath: rootfs + stop, contents: nil)
        usleep(300_000)
        let dropped = state()?.logBytesDropped ?? 0
        try? FileManager.default.removeItem(atPath: filler)
        _ = FileManager.default.createFile(atPath: rootfs + resume, contents: nil)
        var after: Ocishim_V1_StateResponse?
        let resumed = lab.eventually(20) {
            after = state()
            return after?.logError.isEmpty == true && ((try? String(contentsOfFile: logPath, encoding: .utf8))?.contains(" after 20\n") ?? false)
        }
        let events = eventKinds(client)
        let log = K8sLog(path: logPath)
        let lines = log.lines()
        var last = 0, backwards = 0, torn: [String] = []
        var afterSeen: [Int] = []
        for line in lines {
            if line.hasPrefix("line "), let n = Int(line.dropFirst(5)) {
                if n <= last { backwards += 1 }
                last = n
            } else if line.hasPrefix("after "), let n = Int(line.dropFirst(6)) {
                afterSeen.append(n)
            } else {
                torn.append(line)
            }
        }

        report.tried("a 1 MiB tmpfs log (256 KiB filler) filled by a container printing numbered lines; then the filler removed and 20 more lines printed")
        report.found("log error reported: \(full?.logError.debugDescription ?? "never"); \(dropped) bytes dropped; after freeing: log_error \(after.map { $0.logError.isEmpty ? "cleared" : $0.logError.debugDescription } ?? "?"); events: \(events.joined(separator: ", ")); the log: \(log.records.count) records, lines up to \(last), \(afterSeen.count) of 20 after-lines")
        report.expect(shim.isAlive, "the shim keeps running (\(shim.describeEnd()))")
        report.expect(reported, "State.log_error reports the full disk")
        report.expect(events.contains("LOG_ERROR"), "a LOG_ERROR event")
        report.expect(log.malformed.isEmpty && log.endsCleanly, "the log holds only whole records" + (log.malformed.isEmpty ? "" : ": \(log.malformed.prefix(3))"))
        report.expect(torn.isEmpty && backwards == 0, "every line in the log is whole and in order" + (torn.isEmpty ? "" : ": \(torn.prefix(3).map { $0.debugDescription })"))
        report.expect(resumed && afterSeen == Array(1...20), "after space is freed the shim logs again: log_error cleared, all 20 new lines in the log (\(afterSeen.count))")
        report.expect(events.contains("LOG_RESUMED"), "a LOG_RESUMED event")
    }

    static func eventKinds(_ client: ShimClient) -> [String] {
        guard let stream = try? client.openStream("Events", Ocishim_V1_EventsRequest.with { $0.noFollow = true }) else { return [] }
        var kinds: [String] = []
        while let event = try? stream.next(Ocishim_V1_Event.self, timeoutSeconds: 5) {
            switch event.type {
            case .logError: kinds.append("LOG_ERROR")
            case .logResumed: kinds.append("LOG_RESUMED")
            default: continue
            }
        }
        return kinds
    }
}
