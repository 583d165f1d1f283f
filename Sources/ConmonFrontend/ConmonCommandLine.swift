/// conmon's initialize_cli: glib parses the command line (GOptionParser,
/// ConmonOptionTable), and the outcome is what conmon does with it.
public enum ConmonCommandLine {
    public enum Outcome: Equatable {
        case options(ConmonOptions)
        /// -h, -?, --help, --help-all: the usage text, exit 0.
        case help(String)
    }

    /// Throws glib's message; conmon prints it on stdout as
    /// "conmon: option parsing failed: <message>" and exits 1.
    public static func parse(_ arguments: [String], programName: String = "conmon") throws(ConmonError) -> Outcome {
        let parsed: [(name: String, value: GOptionValue)]
        do {
            switch try ConmonOptionTable.parser.parse(arguments) {
            case .help: return .help(ConmonOptionTable.parser.help(programName: programName))
            case .parsed(let p): parsed = p
            }
        } catch {
            throw ConmonError(error.message)
        }
        var options = ConmonOptions()
        for (name, value) in parsed {
            ConmonOptionTable.apply[name]?(&options, value)
        }
        return .options(options)
    }

    /// The options, for callers that know the line asks for no help.
    public static func options(_ arguments: [String]) throws(ConmonError) -> ConmonOptions {
        switch try parse(arguments) {
        case .options(let o): return o
        case .help: throw ConmonError("help was asked for")
        }
    }

    /// glib's program name: argv[0]'s last component.
    public static func programName(_ argv0: String?) -> String {
        guard let argv0, !argv0.isEmpty else { return "conmon" }
        return String(argv0.split(separator: "/").last ?? Substring(argv0))
    }
}
