import Foundation
import XCTest

/// A busybox OCI bundle built by Scripts/make-bundle, with config.json
/// adjusted per test through JSONSerialization.
struct BusyboxBundle {
    let path: String
    var configPath: String { path + "/config.json" }
    var rootfs: String { path + "/rootfs" }

    /// A bundle running `args` (no terminal unless asked).
    static func make(in dir: String, args: [String], terminal: Bool = false,
                     edit: ((inout [String: Any]) -> Void)? = nil) throws -> BusyboxBundle {
        let path = dir + "/bundle"
        let script = TestSupport.packageRoot.appendingPathComponent("Scripts/make-bundle").path
        let (status, _) = try TestSupport.run(script, [path] + args)
        guard status == 0 else { throw TestSupport.SupportError("Scripts/make-bundle failed with \(status)") }
        let bundle = BusyboxBundle(path: path)
        try bundle.editConfig { config in
            var process = config["process"] as? [String: Any] ?? [:]
            process["terminal"] = terminal
            config["process"] = process
            edit?(&config)
        }
        return bundle
    }

    func editConfig(_ body: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: configPath))
        var config = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        body(&config)
        let out = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted])
        try out.write(to: URL(fileURLWithPath: configPath))
    }

    /// Sets linux.resources.memory.limit (bytes).
    static func memoryLimit(_ bytes: Int) -> (inout [String: Any]) -> Void {
        { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            var resources = linux["resources"] as? [String: Any] ?? [:]
            resources["memory"] = ["limit": bytes, "swap": bytes]
            linux["resources"] = resources
            config["linux"] = linux
        }
    }
}
