import ShimSystem

/// Turns a failed runtime invocation into the error an engine sees: the
/// runtime's own message (from its JSON log, as the seed's readConmonPipeData
/// does, else its stderr), classified as the seed's getOCIRuntimeError does.
enum RuntimeFailure {
    /// The message of the last error record of a `--log-format=json` log
    /// (one JSON object per line), or of the last record of any level.
    static func messageFromJSONLog(_ bytes: [UInt8]) -> String? {
        var lastError: String?
        var lastAny: String?
        for line in bytes.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let record = try? JSONValue(parsing: line), let msg = record["msg"]?.stringValue else { continue }
            lastAny = msg
            let level = record["level"]?.stringValue ?? ""
            if level == "error" || level == "fatal" || level == "panic" { lastError = msg }
        }
        return lastError ?? lastAny
    }

    /// The error for `operation` (e.g. "create") given what the runtime left.
    static func error(runtime: String, operation: String, jsonLog: [UInt8]?, stderr: String,
                      termination: String, timedOut: Bool, timeoutSeconds: Double) -> CoreError {
        if timedOut {
            return CoreError(.deadlineExceeded,
                "\(runtime) \(operation) did not finish within \(formatSeconds(timeoutSeconds)) and was killed")
        }
        let raw = jsonLog.flatMap(messageFromJSONLog) ?? lastLine(stderr)
        let message = raw.map { trimNewlines($0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(runtime) \(operation) failed (\(termination)) without an error message"
        return classify(message)
    }

    /// The seed's categories: permission problems, missing executables, and
    /// everything else as a plain runtime error.
    static func classify(_ message: String) -> CoreError {
        let lower = message.lowercased()
        // runc: "container with id exists: ID"; crun: "container `ID` already
        // exists". Another container holds the id: an engine must not treat
        // it as this create's leftover.
        if lower.contains("container with id exists") || lower.contains("already exists") {
            return CoreError(.alreadyExists, "\(message): OCI runtime error")
        }
        if lower.contains("permission denied") || lower.contains("operation not permitted") {
            return CoreError(.permissionDenied, "\(message): OCI permission denied")
        }
        if lower.contains("executable file not found in") || lower.contains("no such file or directory") {
            return CoreError(.notFound, "\(message): OCI runtime attempted to invoke a command that was not found")
        }
        return CoreError(.runtimeFailed, "\(message): OCI runtime error")
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
