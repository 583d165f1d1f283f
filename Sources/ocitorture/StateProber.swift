import Foundation
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// Asks State on its own connection every `every` seconds; counts the
/// probes that got no answer within `bound` seconds.
final class StateProber: @unchecked Sendable {
    let stateDir: String
    let every: Double
    let bound: Double
    private let lock = NSLock()
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)
    private(set) var probes = 0
    private var failed = 0
    private var first = ""
    private var worst = 0.0

    init(stateDir: String, every: Double, bound: Double) {
        self.stateDir = stateDir
        self.every = every
        self.bound = bound
    }

    var failures: Int { lock.lock(); defer { lock.unlock() }; return failed }
    var firstFailure: String { lock.lock(); defer { lock.unlock() }; return first }
    var slowest: Double { lock.lock(); defer { lock.unlock() }; return worst }

    func start() {
        Thread { [self] in
            while true {
                lock.lock()
                let stop = stopping
                lock.unlock()
                if stop { break }
                let began = Clock.monotonicNanos()
                var problem: String?
                do {
                    let c = try ShimClient.connect(stateDir: stateDir)
                    c.timeoutSeconds = bound
                    let _: Ocishim_V1_StateResponse = try c.call("State", Ocishim_V1_StateRequest())
                    c.close()
                } catch {
                    problem = "\(error)"
                }
                let took = seconds(since: began)
                lock.lock()
                probes += 1
                worst = max(worst, took)
                if let problem {
                    failed += 1
                    if first.isEmpty { first = "probe \(probes): \(problem)" }
                }
                lock.unlock()
                if problem != nil { break }
                usleep(UInt32(every * 1e6))
            }
            done.signal()
        }.start()
    }

    func stop() {
        lock.lock(); stopping = true; lock.unlock()
        done.wait()
    }
}
