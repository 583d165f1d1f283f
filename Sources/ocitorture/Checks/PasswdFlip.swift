import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// A container that swaps its /etc/passwd between a regular file, a FIFO
/// and a symlink to a host file (its own busybox loop), while its /etc/group
/// does the same much faster: a host thread exchanges it with a FIFO and a
/// symlink in the rootfs (renameat2 RENAME_EXCHANGE, one syscall a flip),
/// what a compiled program in the container could do; the busybox loop
/// alone hits the window between the shim's stat and open too rarely.
/// Meanwhile exec requests run, most of them for a user no file defines
/// (the shim reads the files and refuses at once, without the runtime: many
/// lookups a second), some for the host-only user, some with real users or
/// none; a second client asks State every 100 ms.
///
/// Must hold (issue "Trust defects" item 3): the shim answers State within
/// 3 s throughout (it never blocks in an open() of a FIFO), and never reads
/// the host files (inotify sees no open of them; the user that only they
/// define is never found).
enum PasswdFlip {
    static func run(_ lab: Lab, _ report: Report) throws {
        let dir = try lab.directory("passwd-flip")
        let hostUser = "tthost\(Int.random(in: 1000...9999, using: &lab.random))"
        let hostPasswd = dir + "/host-passwd", hostGroup = dir + "/host-group"
        try "\(hostUser):x:4242:4242:host only:/:/bin/sh\n".write(toFile: hostPasswd, atomically: false, encoding: .utf8)
        try "\(hostUser):x:4242:\n".write(toFile: hostGroup, atomically: false, encoding: .utf8)
        let script = """
            cd /etc && cp passwd passwd.reg && mkfifo passwd.fifo && while :; do \
            ln -f passwd.fifo passwd.new; mv -f passwd.new passwd; \
            ln -f passwd.reg passwd.new; mv -f passwd.new passwd; \
            ln -sfn \(hostPasswd) passwd.new; mv -f passwd.new passwd; \
            ln -f passwd.reg passwd.new; mv -f passwd.new passwd; done
            """
        let bundle = try lab.bundle(["sh", "-c", script], privateRootfs: true)
        let etc = lab.rootfs(ofBundle: bundle) + "/etc"
        let flipper = Flipper(target: etc + "/group", fifo: etc + "/.tt-group-fifo", link: etc + "/.tt-group-link", hostFile: hostGroup)
        try flipper.prepare()

        let shim = try ShimUnderTest(lab, tag: "passwd")
        var hung = false
        defer { shim.destroy(ask: !hung) }
        // Runtime calls that block on the container's FIFOs end after 10 s.
        try shim.run(bundle: bundle) { $0.runtime.timeoutSeconds = 10 }
        let watch = FileWatch(paths: [hostPasswd, hostGroup])
        flipper.start()
        lab.cleanup.action { flipper.stop() }
        let prober = StateProber(stateDir: shim.stateDir, every: 0.1, bound: 3)
        prober.start()

        let total = lab.scaled(600, 6000)
        let realUsers = ["", "user", "1000:1000", "root"]
        let budget = lab.scaled(20.0, 120.0)
        var tried = 0
        var answered = 0, errors: [String: Int] = [:], slow: [String] = [], hostUID = 0
        shim.client.timeoutSeconds = lab.scaled(5, 12)
        let began = Clock.monotonicNanos()
        for i in 0..<total {
            // Execs that reach the runtime may block inside the container
            // (runc reads the FIFO too) until the shim's 10 s runtime
            // deadline: few of them, and a time budget for the whole loop.
            if seconds(since: began) > budget { break }
            let user = i % 25 == 24 ? realUsers[(i / 25) % realUsers.count] : i % 10 == 4 ? hostUser : "nosuchuser"
            tried += 1
            do {
                let r: Ocishim_V1_ExecSyncResponse = try shim.client.call("ExecSync", Ocishim_V1_ExecSyncRequest.with {
                    $0.exec.args = ["id", "-u"]
                    $0.exec.user = user
                })
                answered += 1
                if String(decoding: r.stdout, as: UTF8.self).hasPrefix("4242") { hostUID += 1 }
            } catch ClientError.timedOut {
                slow.append("exec \(i) (user \"\(user)\")")
                if prober.failures > 0 || !shim.isAlive { break }
            } catch ClientError.rpc(let e) {
                answered += 1
                errors[e.code.name, default: 0] += 1
            } catch {
                slow.append("exec \(i): \(error)")
                break
            }
            if prober.failures > 0 { break }
        }
        let elapsed = seconds(since: began)
        // One more round of the prober after the last exec.
        usleep(500_000)
        prober.stop()
        flipper.stop()
        let blocked = prober.failures > 0 ? ProcInfo.whereBlocked(shim.pid) : ""
        hung = prober.failures > 0
        let opens = watch.events()

        report.tried("\(tried) ExecSync calls (`id -u`; most for a user no file defines, 1 in 10 for the host-only user, 1 in 25 for \(realUsers.map { "\"\($0)\"" }.joined(separator: ", "))) in \(String(format: "%.1f", elapsed)) s while /etc/passwd flipped regular/FIFO/symlink-to-host (busybox loop in the container) and /etc/group did the same \(flipper.flips) times (host thread); State every 100 ms from another client (\(prober.probes) probes)")
        report.found("\(answered) execs answered (errors: \(errors.isEmpty ? "none" : errors.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), \(slow.count) not answered within \(shim.client.timeoutSeconds) s\(slow.isEmpty ? "" : " (\(slow.prefix(3).joined(separator: ", ")))"); slowest State \(String(format: "%.2f", prober.slowest)) s")
        report.expect(prober.failures == 0, "the shim answered State within 3 s throughout" + (hung ? " -- it stopped answering: \(prober.firstFailure); the shim is blocked: \(blocked)" : ""))
        report.expect(shim.isAlive, "the shim is alive (\(shim.describeEnd()))")
        report.expect(opens.isEmpty, "the shim never opened the host files the symlinks point at" + (opens.isEmpty ? "" : " (inotify: \(opens.joined(separator: ", ")))"))
        report.expect(hostUID == 0, "the user only the host files define was never found (\(hostUID) execs ran as uid 4242)")
    }
}
