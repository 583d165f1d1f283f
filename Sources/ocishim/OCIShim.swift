import ArgumentParser
import ShimCore

@main
struct OCIShim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocishim",
        abstract: "A per-container OCI runtime shim speaking ttrpc on stdin/stdout.",
        version: "ocishim version \(ShimVersion.current)",
        subcommands: [Serve.self, Connect.self])
}
