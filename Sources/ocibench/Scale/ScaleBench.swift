import Foundation
import Glibc
import ShimSystem

/// The scale section: hundreds of containers at once, each under its own
/// monitor (docs/BENCHMARKS.md, "Scale"). Bursts of creation by several
/// engines at once, with runc alone as the baseline; then, per monitor, the
/// host filled with idle containers step by step (memory of every monitor
/// at each size), an engine polling all of them, and their teardown with a
/// census of what is left. Every container it starts is removed on the way
/// out, also when interrupted (Interrupt).
final class ScaleBench {
    let bench: Bench
    let settings: ScaleSettings
    var results: ScaleResults
    private var counter = 0
    private let sleepArgs = ["/bin/sleep", "1000000"]

    init(bench: Bench, settings: ScaleSettings) {
        self.bench = bench
        self.settings = settings
        results = ScaleResults(settings: settings)
    }

    var runc: String { bench.raw.runc }

    func progress(_ text: String) {
        FileHandle.standardError.write(Data("ocibench: scale: \(text)\n".utf8))
    }

    /// The sizes the host's limits allow; the others are dropped, and said so.
    func checkLimits() {
        let limits = HostLimits(largest: settings.sizes.max() ?? 0, runc: runc)
        results.limits = limits.lines
        for line in limits.lines { progress("limit: \(line)") }
        let fitting = settings.sizes.filter { $0 <= limits.maxContainers }
        if fitting.count < settings.sizes.count {
            let dropped = settings.sizes.filter { $0 > limits.maxContainers }
            results.notes.append("sizes \(dropped.map(String.init).joined(separator: ", ")) left out: the host's limits allow \(limits.maxContainers) containers")
        }
        results.settings.sizes = fitting
    }

    // --- containers of the section ----------------------------------------------------

    /// A container of the section: its own directory holding its bundle
    /// (conmon keeps FIFOs and its attach socket there), the monitor's
    /// files and the log.
    func spec(_ tag: String) throws -> ContainerSpec {
        counter += 1
        let id = "ocibench-\(getpid())-\(tag)-\(counter)"
        let dir = "\(bench.workDir)/scale/\(id)"
        try bench.bundles.make(at: dir + "/bundle", args: sleepArgs)
        return ContainerSpec(id: id, bundle: dir + "/bundle", logPath: dir + "/ctr.log", dir: dir)
    }

    func removeDir(of spec: ContainerSpec) {
        try? FileManager.default.removeItem(atPath: spec.dir)
    }

    /// Files a monitor left in the container's directory after its removal:
    /// ocishim's state directory (the shim removes it after Delete) and
    /// anything in the bundle beyond config.json.
    func filesLeft(by spec: ContainerSpec) -> [String] {
        let state = spec.dir + "/state"
        var left = HostCensus.files(under: state).map { "\(spec.id)/state/\($0)" }
        if left.isEmpty && FileManager.default.fileExists(atPath: state) { left.append("\(spec.id)/state/") }
        left += HostCensus.files(under: spec.bundle).filter { $0 != "config.json" }.map { "\(spec.id)/bundle/\($0)" }
        return left
    }

    // --- the whole section -----------------------------------------------------------

    func run() throws -> ScaleResults {
        checkLimits()
        try FileManager.default.createDirectory(atPath: bench.workDir + "/scale", withIntermediateDirectories: true)
        try measureBursts()
        if !results.settings.sizes.isEmpty {
            for monitor in bench.monitors { try measureDensity(monitor) }
        }
        return results
    }
}
