import ArgumentParser

@main
struct OCICtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocictl",
        abstract: "Drive ocishim shims: the engine's side, on the command line.",
        subcommands: [Version.self, Replay.self])
}
