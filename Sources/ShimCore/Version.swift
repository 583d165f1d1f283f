/// The shim's own version, reported by Hello, RuntimeInfo and `--version`.
public enum ShimVersion {
    public static let current = "0.1.0"
}
