import ShimSystem

/// What the shim reads from the bundle's config.json: whether the process
/// wants a terminal, its process spec (exec sessions start from it), the
/// rootfs (user lookup for exec) and the user namespace mappings.
public struct BundleConfig: Sendable {
    public let bundle: String
    public let document: JSONValue
    public var process: JSONValue? { document["process"] }
    public var terminal: Bool { process?["terminal"]?.boolValue ?? false }

    /// The rootfs as an absolute path (config.json may give it relative).
    public var rootfs: String {
        let root = document["root"]?["path"]?.stringValue ?? "rootfs"
        return root.hasPrefix("/") ? root : FileSystem.join(bundle, root)
    }

    public var uidMappings: [IDMap] { Self.mappings(document["linux"]?["uidMappings"]) }
    public var gidMappings: [IDMap] { Self.mappings(document["linux"]?["gidMappings"]) }

    public static func load(bundle: String) throws(CoreError) -> BundleConfig {
        guard FileSystem.isDirectory(bundle) else {
            throw .invalid("bundle \(bundle) is not a directory")
        }
        let path = FileSystem.join(bundle, "config.json")
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(path, limit: 16 << 20)
        } catch {
            throw .invalid("bundle \(bundle): cannot read config.json: \(error)")
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw .invalid("bundle \(bundle): config.json is not valid JSON: \(error)")
        }
        guard document.objectValue != nil else { throw .invalid("bundle \(bundle): config.json is not a JSON object") }
        return BundleConfig(bundle: bundle, document: document)
    }

    private static func mappings(_ value: JSONValue?) -> [IDMap] {
        (value?.arrayValue ?? []).compactMap { m in
            guard let c = m["containerID"]?.intValue, let h = m["hostID"]?.intValue, let s = m["size"]?.intValue else { return nil }
            return IDMap(containerID: UInt32(truncatingIfNeeded: c), hostID: UInt32(truncatingIfNeeded: h), size: UInt32(truncatingIfNeeded: s))
        }
    }
}
