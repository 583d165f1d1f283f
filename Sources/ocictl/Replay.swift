import ArgumentParser
import ShimClient
import ShimTranscript

/// Replays transcripts (docs/TRANSCRIPTS.md), each against a fresh shim.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay transcripts against fresh shims and print the first difference.",
        discussion: """
            Each FILE gets its own shim, state directory and container id. Exit status 0 \
            when every transcript replays green, 1 at the first difference.
            """)

    @Argument(help: "Transcript files (*.transcript).")
    var files: [String]

    @Option(help: "The ocishim binary.")
    var shim: String?

    @Option(help: "OCI runtime name or path; replaces the transcripts' --runtime.")
    var runtime: String?

    @Option(help: "Seconds to wait for each expected frame (a transcript's `timeout` wins).")
    var timeout = 10

    @Option(name: .customLong("make-bundle"), help: "Scripts/make-bundle, for transcripts with a `bundle` line.")
    var makeBundle: String?

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one transcript file") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        var replayer = TranscriptReplayer(shimPath: ShimLocation.resolve(shim), runtime: runtime)
        replayer.timeoutSeconds = timeout
        if let makeBundle { replayer.makeBundleScript = makeBundle }
        for file in files {
            if let difference = replayer.replay(file: file) {
                print(difference)
                throw ExitCode(1)
            }
            print("ok   \(file)")
        }
    }
}
