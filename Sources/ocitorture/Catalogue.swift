/// The checks, in the order they run. Each names what of issue "Trust
/// defects" (docs/TORTURE.md) it covers.
struct CheckDefinition: Sendable {
    let name: String
    let covers: String
    let summary: String
    let run: @Sendable (Lab, Report) throws -> Void
}

enum Catalogue {
    static let all: [CheckDefinition] = [
        CheckDefinition(name: "frame-fuzz", covers: "reliability suite",
                        summary: "mutated, random, truncated and oversized frames on the shim's stdio and socket", run: FrameFuzz.run),
        CheckDefinition(name: "numeric-fields", covers: "item 4",
                        summary: "every numeric field of every request, and timeout_nano, at its extremes", run: NumericFields.run),
        CheckDefinition(name: "engine-kills", covers: "reliability suite",
                        summary: "engines SIGKILLed mid-stream; the log keeps every line once, in order", run: EngineKills.run),
        CheckDefinition(name: "shim-kill", covers: "item 5",
                        summary: "the shim SIGKILLed; ocictl ps/state/rm --force afterwards", run: ShimKill.run),
        CheckDefinition(name: "exec-churn", covers: "reliability suite",
                        summary: "many exec sessions; fds, zombies and RSS of the shim stay flat", run: ExecChurn.run),
        CheckDefinition(name: "passwd-flip", covers: "item 3",
                        summary: "/etc/passwd and /etc/group flip between file, FIFO and host symlink during execs", run: PasswdFlip.run),
        CheckDefinition(name: "config-fifo", covers: "item 3",
                        summary: "a bundle whose config.json is a FIFO or endless", run: ConfigFIFO.run),
        CheckDefinition(name: "planted-symlinks", covers: "item 7",
                        summary: "symlinks planted at the shim's temporary names and at the log path", run: PlantedSymlinks.run),
        CheckDefinition(name: "disk-full", covers: "reliability suite",
                        summary: "the log on a full tmpfs, then space freed", run: DiskFull.run),
        CheckDefinition(name: "slow-readers", covers: "reliability suite",
                        summary: "attach clients and event subscribers that never read", run: SlowReaders.run),
        CheckDefinition(name: "create-conflicts", covers: "items 1, 2",
                        summary: "creates of a live id, or into a folder ocictl did not make, harm nothing", run: CreateConflicts.run),
        CheckDefinition(name: "detached-stdio", covers: "item 6",
                        summary: "the detached shim does not keep its spawner's stdout/stderr pipe", run: DetachedStdio.run),
        CheckDefinition(name: "create-killed", covers: "item 8",
                        summary: "ocictl create SIGKILLed mid-way; rm --force leaves nothing", run: CreateKilled.run),
        CheckDefinition(name: "deadlines", covers: "item 9",
                        summary: "requests whose deadline passes mid-work; shim and runtime agree after", run: Deadlines.run),
        CheckDefinition(name: "relative-paths", covers: "item 10",
                        summary: "relative bundle, log path and exit dir in Create", run: RelativePaths.run),
        CheckDefinition(name: "partial-lines", covers: "log integrity",
                        summary: "100-byte lines are never split into P + F records", run: PartialLines.run),
    ]
}
