/// Parses conmon's command line the way glib's option parser does for
/// conmon: `--name value`, `--name=value`, `-x value`, `-xvalue`, clusters of
/// short flags (`-ti`), repeatable options, and an option's value taken from
/// the next argument even when it starts with `-` (podman relies on that:
/// `--exit-command-arg --root`). Unlike conmon, nothing is silently ignored:
/// an unknown or unsupported option, a stray argument or a malformed number
/// is an error that names it.
public enum ConmonCommandLine {
    public static func parse(_ arguments: [String]) throws(ConmonError) -> ConmonOptions {
        var options = ConmonOptions()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                if index < arguments.count {
                    throw .usage("unexpected argument \"\(arguments[index])\" after --")
                }
                break
            }
            if argument.hasPrefix("--") {
                try parseLong(argument, arguments, &index, &options)
            } else if argument.hasPrefix("-") && argument.count > 1 {
                try parseShortCluster(argument, arguments, &index, &options)
            } else {
                throw .usage("unexpected argument \"\(argument)\" (conmon takes options only)")
            }
        }
        return options
    }

    private static func parseLong(_ argument: String, _ arguments: [String], _ index: inout Int,
                                  _ options: inout ConmonOptions) throws(ConmonError) {
        let body = argument.dropFirst(2)
        let name: String
        var inlineValue: String?
        if let eq = body.firstIndex(of: "=") {
            name = String(body[..<eq])
            inlineValue = String(body[body.index(after: eq)...])
        } else {
            name = String(body)
        }
        let display = "--\(name)"
        if let reason = ConmonOptionTable.unsupported[name] {
            throw .usage("option \(display) is not supported by ocishim-conmon: \(reason)")
        }
        guard let spec = ConmonOptionTable.byLong[name] else {
            throw .usage("unknown option \(display)")
        }
        switch spec.kind {
        case .flag:
            if inlineValue != nil { throw .usage("option \(display) does not take a value") }
            try spec.apply(&options, nil, display)
        case .apiVersion:
            // conmon declares it a flag; podman passes `--api-version 1`.
            var value = inlineValue
            if value == nil, index < arguments.count, !arguments[index].isEmpty,
               arguments[index].allSatisfy(\.isNumber) {
                value = arguments[index]
                index += 1
            }
            try spec.apply(&options, value, display)
        case .value:
            if let inlineValue { return try spec.apply(&options, inlineValue, display) }
            guard index < arguments.count else { throw .usage("missing value for option \(display)") }
            let value = arguments[index]
            index += 1
            try spec.apply(&options, value, display)
        }
    }

    private static func parseShortCluster(_ argument: String, _ arguments: [String], _ index: inout Int,
                                          _ options: inout ConmonOptions) throws(ConmonError) {
        var letters = argument.dropFirst()
        while let letter = letters.first {
            letters = letters.dropFirst()
            let display = "-\(letter)"
            guard let spec = ConmonOptionTable.byShort[letter] else {
                throw .usage("unknown option \(display)")
            }
            switch spec.kind {
            case .flag:
                try spec.apply(&options, nil, display)
            case .apiVersion:
                try spec.apply(&options, nil, display)
            case .value:
                if !letters.isEmpty {
                    // -cID: the rest of the argument is the value.
                    try spec.apply(&options, String(letters), display)
                    return
                }
                guard index < arguments.count else { throw .usage("missing value for option \(display)") }
                let value = arguments[index]
                index += 1
                try spec.apply(&options, value, display)
            }
        }
    }
}

/// One option conmon knows: its names, whether it takes a value, and where
/// the value goes.
struct ConmonOptionSpec: Sendable {
    enum Kind: Sendable { case flag, value, apiVersion }
    let long: String
    let short: Character?
    let kind: Kind
    /// value: nil for flags; display: the name as written, for errors.
    let apply: @Sendable (inout ConmonOptions, String?, String) throws(ConmonError) -> Void
}

enum ConmonOptionTable {
    static let all: [ConmonOptionSpec] = [
        // identity and runtime
        .init(long: "api-version", short: nil, kind: .apiVersion) { o, v, name throws(ConmonError) in
            o.apiVersion = try v.map { value throws(ConmonError) in Int(try integer(value, name)) } ?? 1
        },
        string("cid", "c", \.containerID),
        string("cuuid", "u", \.containerUUID),
        string("name", "n", \.name),
        string("runtime", "r", \.runtimePath),
        string("bundle", "b", \.bundle),
        string("container-pidfile", "p", \.containerPidFile),
        string("pidfile", nil, \.containerPidFile),
        string("conmon-pidfile", "P", \.conmonPidFile),
        // logging
        list("log-path", "l", \.logDrivers),
        .init(long: "log-size-max", short: nil, kind: .value) { o, v, name throws(ConmonError) in
            o.logSizeMax = try integer(v ?? "", name)
        },
        string("log-tag", nil, \.logTag),
        string("log-level", nil, \.logLevel),
        flag("syslog", nil, \.syslog),
        // files and sockets
        string("exit-dir", nil, \.exitDir),
        string("persist-dir", "0", \.persistDir),
        .init(long: "socket-dir-path", short: nil, kind: .value) { o, v, _ in o.socketDirPath = v ?? "" },
        flag("full-attach", nil, \.fullAttach),
        // exit handling
        string("exit-command", nil, \.exitCommand),
        list("exit-command-arg", nil, \.exitCommandArgs),
        .init(long: "exit-delay", short: nil, kind: .value) { o, v, name throws(ConmonError) in
            o.exitDelay = try integer(v ?? "", name, int32: true)
        },
        // stdio
        flag("terminal", "t", \.terminal),
        flag("stdin", "i", \.stdin),
        flag("leave-stdin-open", nil, \.leaveStdinOpen),
        // runtime options
        flag("no-pivot", nil, \.noPivot),
        flag("no-new-keyring", nil, \.noNewKeyring),
        list("runtime-arg", nil, \.runtimeArgs),
        list("runtime-opt", nil, \.runtimeOpts),
        list("restore-arg", nil, \.runtimeOpts),
        flag("systemd-cgroup", "s", \.systemdCgroup),
        // exec
        flag("exec", "e", \.exec),
        flag("exec-attach", nil, \.execAttach),
        string("exec-process-spec", nil, \.execProcessSpec),
        .init(long: "timeout", short: "T", kind: .value) { o, v, name throws(ConmonError) in
            o.timeout = try integer(v ?? "", name, int32: true)
        },
        // restore, process model
        string("restore", nil, \.restorePath),
        flag("sync", nil, \.sync),
        flag("version", nil, \.version),
    ]

    /// conmon 2.1 options this front end refuses, with the reason.
    static let unsupported: [String: String] = [
        "log-global-size-max": "a size limit over all log files is not implemented (use --log-size-max)",
        "no-sync-log": "the log is always synced when the container exits",
        "sdnotify-socket": "relaying sd_notify messages from the container is not implemented",
        "seccomp-notify-socket": "seccomp notification plugins are not implemented",
        "seccomp-notify-plugins": "seccomp notification plugins are not implemented",
        "replace-listen-pid": "socket activation (LISTEN_FDS/LISTEN_PID) is not implemented",
    ]

    static let byLong: [String: ConmonOptionSpec] = Dictionary(uniqueKeysWithValues: all.map { ($0.long, $0) })
    static let byShort: [Character: ConmonOptionSpec] = Dictionary(
        uniqueKeysWithValues: all.compactMap { spec in spec.short.map { ($0, spec) } })

    private static func flag(_ long: String, _ short: Character?,
                             _ key: WritableKeyPath<ConmonOptions, Bool> & Sendable) -> ConmonOptionSpec {
        .init(long: long, short: short, kind: .flag) { o, _, _ in o[keyPath: key] = true }
    }

    /// A single-valued option; given again, the last one wins (as in glib).
    private static func string(_ long: String, _ short: Character?,
                               _ key: WritableKeyPath<ConmonOptions, String?> & Sendable) -> ConmonOptionSpec {
        .init(long: long, short: short, kind: .value) { o, v, _ in o[keyPath: key] = v }
    }

    private static func list(_ long: String, _ short: Character?,
                             _ key: WritableKeyPath<ConmonOptions, [String]> & Sendable) -> ConmonOptionSpec {
        .init(long: long, short: short, kind: .value) { o, v, _ in o[keyPath: key].append(v ?? "") }
    }

    /// glib's G_OPTION_ARG_INT / INT64: a decimal integer, optionally signed.
    static func integer(_ text: String, _ name: String, int32: Bool = false) throws(ConmonError) -> Int64 {
        guard let value = Int64(text), !int32 || Int32(exactly: value) != nil else {
            throw .usage("cannot parse integer value \"\(text)\" for \(name)")
        }
        return value
    }
}
