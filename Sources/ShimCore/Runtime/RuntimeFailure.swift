import ShimSystem

/// Turns a failed runtime invocation into the error an engine sees: the
/// runtime's own message (from its JSON log, as podman's readConmonPipeData
/// does, else its stderr), classified as podman's getOCIRuntimeError does.
public enum RuntimeFailure {
    /// The message of the last error record of a `--log-format=json` log
    /// (one JSON object per line; a record without a level counts as an
    /// error), else, unless `errorsOnly`, of the last record of any level.
    public static func messageFromJSONLog(_ bytes: [UInt8], errorsOnly: Bool = false) -> String? {
        var lastError: String?
        var lastAny: String?
        for line in bytes.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let record = try? JSONValue(parsing: line), let msg = record["msg"]?.stringValue else { continue }
            lastAny = msg
            let level = record["level"]?.stringValue ?? "error"
            if level == "error" || level == "fatal" || level == "panic" { lastError = msg }
        }
        return errorsOnly ? lastError : lastError ?? lastAny
    }

    /// The error for `operation` (e.g. "create") given what the runtime left.
    static func error(runtime: String, operation: String, jsonLog: [UInt8]?, stderr: [UInt8],
                      termination: Termination, timedOut: Bool, timeoutSeconds: Double) -> CoreError {
        var error: CoreError
        if timedOut {
            error = CoreError(.deadlineExceeded,
                "\(runtime) \(operation) did not finish within \(formatSeconds(timeoutSeconds)) and was killed")
        } else {
            let raw = jsonLog.flatMap { messageFromJSONLog($0) } ?? lastLine(String(decoding: stderr, as: UTF8.self))
            let message = raw.map { trimNewlines($0) }.flatMap { $0.isEmpty ? nil : $0 }
                ?? "\(runtime) \(operation) failed (\(termination)) without an error message"
            error = classify(message)
        }
        if !stderr.isEmpty { error.runtimeOutput = Array(stderr.prefix(CoreError.runtimeOutputLimit)) }
        error.runtimeStatus = termination.exitCode
        return error
    }

    /// podman's categories (getOCIRuntimeError), narrowed: "a command that
    /// was not found" only when the process's executable is what is missing,
    /// not for any "no such file or directory" (a missing rootfs, a working
    /// directory that does not exist are runtime errors).
    static func classify(_ message: String) -> CoreError {
        let kind = kind(of: message)
        return CoreError(kind, message + suffix(of: kind), runtimeMessage: message)
    }

    /// What the engine acts on, from the runtime's text.
    static func kind(of message: String) -> CoreError.Kind {
        let lower = message.lowercased()
        // runc: "container with id exists: ID"; crun: "container `ID` already
        // exists". Another container holds the id: an engine must not treat
        // it as this create's leftover.
        if lower.contains("container with id exists") || lower.contains("already exists") { return .alreadyExists }
        // runc: "container does not exist"; crun: "container `ID` does not
        // exist" or "... not found".
        if lower.contains("container does not exist") || lower.contains("container not found")
            || (lower.contains("container `") && lower.contains("does not exist")) {
            return .noSuchContainer
        }
        if let executable = executableFailure(lower) { return executable }
        if lower.contains("permission denied") || lower.contains("operation not permitted") { return .permissionDenied }
        return .runtimeFailed
    }

    /// The process's executable could not be run. runc (libcontainer's
    /// standard_init_linux.go and setns_init_linux.go) words it
    /// `exec: "X": <why>`: "executable file not found in $PATH",
    /// "stat X: no such file or directory", "permission denied"; crun
    /// "executable file `X` not found in $PATH" and
    /// "exec the container process (`X`): Permission denied".
    private static func executableFailure(_ lower: String) -> CoreError.Kind? {
        let aboutExec = lower.contains("exec: \"") || lower.contains("exec the container process")
        if lower.contains("executable file not found in") || (lower.contains("executable file `") && lower.contains("not found")) {
            return .commandNotFound
        }
        if aboutExec && lower.contains("no such file or directory") { return .commandNotFound }
        if aboutExec && (lower.contains("permission denied") || lower.contains("exec format error")) {
            return .commandNotExecutable
        }
        return nil
    }

    /// podman's getOCIRuntimeError categories, as it words them.
    private static func suffix(of kind: CoreError.Kind) -> String {
        switch kind {
        case .permissionDenied, .commandNotExecutable: ": OCI permission denied"
        case .commandNotFound: ": OCI runtime attempted to invoke a command that was not found"
        default: ": OCI runtime error"
        }
    }

    private static func lastLine(_ text: String) -> String? {
        text.split(separator: "\n").last.map(String.init)
    }

    private static func trimNewlines(_ s: String) -> String {
        var sub = Substring(s)
        while let c = sub.last, c == "\n" || c == " " { sub = sub.dropLast() }
        return String(sub)
    }

    static func formatSeconds(_ s: Double) -> String {
        s.rounded() == s ? "\(Int(s))s" : "\(s)s"
    }
}
