import Glibc
import Logging
import ShimSystem
import SystemPackage

/// conmon's exit command (podman's `container cleanup`): run after an
/// optional delay, in its own session so it outlives the monitor if it must,
/// with /dev/null as stdio and the monitor's environment. `finished` gets
/// its end (nil: it could not be started).
public enum ExitCommand {
    public static func run(_ argv: [String], delaySeconds: UInt32, environment: [String],
                           loop: EventLoop, reaper: any ProcessTable, log: Logger, label: String,
                           finished: @escaping (Termination?) -> Void) {
        guard let path = argv.first else { return finished(nil) }
        let start = {
            var spawn = SpawnOptions(path: path, arguments: argv, environment: environment)
            spawn.newSession = true
            let devnull = FileDescriptor(rawValue: open("/dev/null", O_RDWR | O_CLOEXEC))
            spawn.fds = [(.standardInput, devnull), (.standardOutput, devnull), (.standardError, devnull)]
            defer { try? devnull.close() }
            do {
                let child = try Spawner.spawn(spawn)
                log.debug("\(label): exit command \(path) started as \(child)")
                reaper.onExit(of: child) { termination in
                    log.debug("\(label): exit command \(path): \(termination)")
                    finished(termination)
                }
            } catch {
                log.error("\(label): cannot run exit command: \(error)")
                finished(nil)
            }
        }
        if delaySeconds > 0 {
            loop.schedule(afterSeconds: Double(delaySeconds), start)
        } else {
            start()
        }
    }
}
