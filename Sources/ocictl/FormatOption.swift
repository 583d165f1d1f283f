import ArgumentParser

/// `--format text|json` for the commands that print records.
struct FormatOption: ParsableArguments {
    @Option(help: ArgumentHelp("Output format: text or json.", valueName: "format"))
    var format: String = "text"

    var isJSON: Bool { format == "json" }

    func validate() throws {
        guard ["text", "json"].contains(format) else {
            throw ValidationError("unknown --format \"\(format)\": use text or json")
        }
    }
}
