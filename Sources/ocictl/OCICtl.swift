import ArgumentParser

@main
struct OCICtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocictl",
        abstract: "Drive ocishim shims: the engine's side, on the command line.",
        discussion: "Containers are addressed by id; each has a shim whose state lives in <state-root>/<id>.",
        subcommands: [Create.self, Start.self, Run.self, State.self, Kill.self, Stop.self, Remove.self, Wait.self,
                      Events.self, Logs.self, Pause.self, Resume.self, Checkpoint.self, Restore.self, PS.self, Exec.self, Attach.self, Version.self,
                      Replay.self])
}
