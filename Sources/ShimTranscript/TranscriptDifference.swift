/// The first place where a replay did not go as the transcript says, ready to
/// print:
///
///     hello.transcript:12: the answer on stream 3 differs
///       <- 3 ok
///     -     checkpoint: true
///     +     checkpoint: false
///           runtime_name: "runc"
///
/// `-` lines are what the transcript expects, `+` lines what the shim did
/// (normalized the same way a recording is), unmarked lines agree.
public struct TranscriptDifference: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line of the step that failed; 0 when no step is to blame
    /// (the shim could not be started).
    public var line: Int
    public var summary: String
    public var expected: [String]
    public var actual: [String]

    public init(file: String, line: Int, summary: String, expected: [String] = [], actual: [String] = []) {
        self.file = file
        self.line = line
        self.summary = summary
        self.expected = expected
        self.actual = actual
    }

    public var description: String {
        var out = line > 0 ? "\(file):\(line): \(summary)" : "\(file): \(summary)"
        for entry in TranscriptLineDiff.diff(expected, actual) {
            out += "\n" + entry
        }
        return out
    }
}

/// A line diff small enough for a few dozen lines (longest common subsequence).
/// Expected lines may use `<*>` to match any text.
public enum TranscriptLineDiff {
    /// True when `actual` matches `expected`: equal, or equal outside the
    /// `<*>` wildcards of the expected line.
    public static func matches(expected: String, actual: String) -> Bool {
        if expected == actual { return true }
        guard expected.contains("<*>") else { return false }
        let parts = expected.split(separator: "<*>", omittingEmptySubsequences: false)
        return TranscriptGlob.matches(parts: parts[...], actual[...])
    }

    public static func matches(expected: [String], actual: [String]) -> Bool {
        expected.count == actual.count && zip(expected, actual).allSatisfy { matches(expected: $0, actual: $1) }
    }

    /// `  ` common, `- ` expected only, `+ ` actual only.
    public static func diff(_ expected: [String], _ actual: [String]) -> [String] {
        let n = expected.count, m = actual.count
        var common = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                common[i][j] = matches(expected: expected[i], actual: actual[j])
                    ? common[i + 1][j + 1] + 1 : max(common[i + 1][j], common[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && matches(expected: expected[i], actual: actual[j]) {
                out.append("  " + actual[j])
                i += 1
                j += 1
            } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
                out.append("- " + expected[i])
                i += 1
            } else {
                out.append("+ " + actual[j])
                j += 1
            }
        }
        return out
    }
}
