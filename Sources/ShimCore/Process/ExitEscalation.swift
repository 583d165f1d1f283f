import Glibc
import ShimSystem

/// "Wait for the exit, or escalate at a deadline", written once: Stop and
/// ExecStop (signal, timeout, SIGKILL, grace), a forced Delete (the runtime
/// killed the init: wait a grace for its exit to be recorded), a checkpoint
/// that stopped the container (grace, SIGKILL by pid, grace).
///
/// Each step optionally signals the process, then waits; the exit, whenever
/// it is recorded, ends the whole sequence with success. A signal that
/// cannot be delivered to a process that is still there fails it at once.
enum ExitEscalation {
    struct Step {
        enum Send {
            case nothing
            /// The process's own delivery (runtime for the init).
            case signal(Int32, all: Bool)
            /// kill(2) on the pid, whatever its delivery.
            case direct(Int32)
        }

        var send: Send
        var wait: Double
        /// Taking this step is an escalation (Stop reports it).
        var escalates = false

        init(send: Send = .nothing, wait: Double, escalates: Bool = false) {
            self.send = send
            self.wait = wait
            self.escalates = escalates
        }
    }

    enum End {
        /// DEADLINE_EXCEEDED with this message.
        case fail(String)
        /// Success without an exit (the caller carries on regardless).
        case giveUp
    }

    /// Runs the steps; `done` gets the exit (nil only after `.giveUp`) and
    /// whether an escalating step was taken, once.
    static func run(on process: MonitoredProcess, steps: [Step], atTheEnd end: End,
                    _ done: @escaping (Result<ProcessExit?, CoreError>, _ escalated: Bool) -> Void) {
        if let exit = process.exit { return done(.success(exit), false) }
        let loop = process.context.loop
        var finished = false
        var escalated = false
        var timer: EventLoop.TimerToken?
        var waiter = 0
        func finish(_ result: Result<ProcessExit?, CoreError>) {
            guard !finished else { return }
            finished = true
            if let timer { loop.cancel(timer) }
            process.cancelExitWait(waiter)
            done(result, escalated)
        }
        waiter = process.onExit { exit in finish(.success(exit)) }

        func step(_ index: Int) {
            guard !finished else { return }
            guard index < steps.count else {
                switch end {
                case .fail(let message): return finish(.failure(CoreError(.deadlineExceeded, message)))
                case .giveUp: return finish(.success(nil))
                }
            }
            let current = steps[index]
            if current.escalates { escalated = true }
            let wait = { timer = loop.schedule(afterSeconds: current.wait) { step(index + 1) } }
            switch current.send {
            case .nothing:
                wait()
            case .direct(let signal):
                process.signalDirectly(signal)
                wait()
            case .signal(let signal, let all):
                process.signal(signal, all: all) { result in
                    guard !finished else { return }
                    if case .failure(let error) = result, process.exit == nil, !process.isGone {
                        return finish(.failure(CoreError(error.kind, "error sending signal \(signal) to \(process.label): \(error.message)")))
                    }
                    wait()
                }
            }
        }
        step(0)
    }

    /// "5s", "0.5s".
    static func seconds(_ value: Double) -> String {
        value.rounded() == value ? "\(Int(value))s" : "\(value)s"
    }
}
