import Foundation

/// The bundles every monitor runs: one busybox rootfs from Scripts/make-bundle,
/// shared by all containers (config.json's root.path points at it), and a
/// bundle directory per container (conmon keeps its `ctl` and `winsz` fifos
/// in the bundle, so two live containers cannot share one). The rootfs holds
/// the data the log benchmarks print, written once.
final class Bundles {
    let dir: String
    let rootfs: String
    private let baseConfig: [String: Any]
    private var count = 0
    private var configs: [[String]: Data] = [:]

    /// The container-side paths of the data files.
    static let linesFile = "/data/lines"
    static let blobFile = "/data/blob"

    init(dir: String, makeBundle: String) throws {
        self.dir = dir
        let base = dir + "/base"
        try Processes.run(makeBundle, [base])
        rootfs = base + "/rootfs"
        let data = try Data(contentsOf: URL(fileURLWithPath: base + "/config.json"))
        guard let config = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchError("\(base)/config.json is not a JSON object")
        }
        baseConfig = config
        try FileManager.default.createDirectory(atPath: rootfs + "/data", withIntermediateDirectories: true)
    }

    /// Writes the data files: `lines`, 100-byte lines (99 characters and a
    /// newline), and `blob`, the same size without a newline.
    func writeData(bytes: Int) throws {
        let line = Array(repeating: UInt8(ascii: "x"), count: 99) + [UInt8(ascii: "\n")]
        var lines = [UInt8]()
        lines.reserveCapacity(bytes)
        while lines.count < bytes { lines += line }
        lines.removeLast(lines.count - bytes)
        // Keep the file a whole number of lines.
        precondition(bytes % 100 == 0, "data size must be a multiple of 100 bytes")
        try Data(lines).write(to: URL(fileURLWithPath: rootfs + Self.linesFile))
        try Data(repeating: UInt8(ascii: "y"), count: bytes).write(to: URL(fileURLWithPath: rootfs + Self.blobFile))
    }

    /// A fresh bundle running `args`, without a terminal.
    func make(_ name: String, args: [String]) throws -> String {
        count += 1
        let path = "\(dir)/\(name)-\(count)"
        try make(at: path, args: args)
        return path
    }

    /// A bundle running `args` in the directory `path` (created): the scale
    /// section gives each container one inside its own directory, removed
    /// with it. The config is serialized once per command.
    func make(at path: String, args: [String]) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let data: Data
        if let cached = configs[args] {
            data = cached
        } else {
            var config = baseConfig
            var process = config["process"] as? [String: Any] ?? [:]
            process["args"] = args
            process["terminal"] = false
            config["process"] = process
            var root = config["root"] as? [String: Any] ?? [:]
            root["path"] = rootfs
            root["readonly"] = false
            config["root"] = root
            data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted])
            configs[args] = data
        }
        try data.write(to: URL(fileURLWithPath: path + "/config.json"))
    }
}
