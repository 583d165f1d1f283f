import ArgumentParser

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replay transcripts against fresh shims.")
    @Argument var files: [String] = []
    func run() throws { throw ValidationError("replay: not built yet") }
}
