import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// Replays transcript files, each against a fresh shim (TranscriptSession),
/// and reports the first difference. Used by `ocictl replay` and the tests.
public struct TranscriptReplayer {
    public var shimPath: String
    /// Replaces the transcript's `--runtime` (or adds one) when set.
    public var runtime: String?
    /// Seconds per expected frame, unless a transcript says `timeout`.
    public var timeoutSeconds = 10
    /// Milliseconds to watch for unexpected frames after the last step.
    public var graceMillis = 300
    /// Scripts/make-bundle, for transcripts with a `bundle` line.
    public var makeBundleScript: String? = TranscriptReplayer.findMakeBundle()

    public init(shimPath: String, runtime: String? = nil) {
        self.shimPath = shimPath
        self.runtime = runtime
    }

    /// Reads, parses and replays one file; nil when it is green.
    public func replay(file path: String) -> TranscriptDifference? {
        let text: String
        do { text = try FileSystem.readString(path) } catch {
            return TranscriptDifference(file: path, line: 0, summary: "cannot read the transcript: \(error)")
        }
        let transcript: Transcript
        do { transcript = try Transcript(parsing: text) } catch {
            return TranscriptDifference(file: path, line: error.line, summary: "not a valid transcript: \(error.message)")
        }
        return replay(transcript, name: path)
    }

    /// Replays a transcript already in memory; `name` is what differences cite.
    public func replay(_ transcript: Transcript, name: String) -> TranscriptDifference? {
        let session: TranscriptSession
        do {
            session = try TranscriptSession(shim: shimPath, serveArguments: serveArguments(transcript.header.serveArguments),
                                            bundleCommand: transcript.header.bundleCommand, makeBundle: makeBundleScript)
        } catch {
            return TranscriptDifference(file: name, line: 0, summary: "cannot start a shim: \(error)")
        }
        var engine = TranscriptReplayEngine(file: name, transcript: transcript, variables: session.variables)
        engine.defaultTimeoutSeconds = timeoutSeconds
        engine.graceMillis = graceMillis
        let outcome = engine.run(on: session)
        session.finish(after: outcome)
        return outcome.difference
    }

    /// $OCISHIM_MAKE_BUNDLE, else Scripts/make-bundle above the current
    /// directory or above the running binary (a build directory of the repo).
    public static func findMakeBundle() -> String? {
        if let env = getenv("OCISHIM_MAKE_BUNDLE") { return String(cString: env) }
        var starts = [FileSystem.absolute(".")]
        if let me = FileSystem.readLink("/proc/self/exe") { starts.append(FileSystem.dirname(of: me)) }
        for start in starts {
            var dir = start
            while true {
                let candidate = FileSystem.join(dir, "Scripts/make-bundle")
                if FileSystem.isExecutableFile(candidate) { return candidate }
                let parent = FileSystem.dirname(of: dir)
                if parent == dir { break }
                dir = parent
            }
        }
        return nil
    }

    /// The transcript's `serve` arguments with `--runtime` replaced by ours.
    func serveArguments(_ arguments: [String]) -> [String] {
        guard let runtime else { return arguments }
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            if arguments[i] == "--runtime" {
                i += 2
            } else if arguments[i].hasPrefix("--runtime=") {
                i += 1
            } else {
                out.append(arguments[i])
                i += 1
            }
        }
        return out + ["--runtime", runtime]
    }
}
