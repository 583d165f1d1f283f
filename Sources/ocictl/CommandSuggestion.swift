/// "Did you mean" for a command that does not exist (`ocictl stat`).
enum CommandSuggestion {
    struct Unknown: Equatable {
        let word: String
        let suggestions: [String]

        var message: String {
            var text = "ocictl: unknown command \"\(word)\""
            if !suggestions.isEmpty {
                text += "; did you mean " + suggestions.map { "\"\($0)\"" }.joined(separator: " or ") + "?"
            }
            return text + "\nSee 'ocictl --help' for the commands."
        }
    }

    /// The command word of `arguments` when it names no command: the first
    /// word that is not an option. nil when it is a command (or missing).
    static func unknownCommand(in arguments: [String], known: [String]) -> Unknown? {
        guard let word = arguments.first(where: { !$0.hasPrefix("-") }), !known.contains(word),
              arguments.first == word else { return nil }
        return Unknown(word: word, suggestions: suggestions(for: word, among: known))
    }

    /// The commands closest to `word` (at most two edits, fewer for short
    /// words), else those it begins; in the order of `known`.
    static func suggestions(for word: String, among known: [String]) -> [String] {
        let limit = word.count <= 3 ? 1 : 2
        let distances = known.map { distance(word, $0) }
        if let best = distances.min(), best <= limit {
            return zip(known, distances).filter { $0.1 == best }.map(\.0)
        }
        return word.count >= 2 ? known.filter { $0.hasPrefix(word) } : []
    }

    /// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`:
    /// the optimal string alignment distance, so "lsit" is one from "list".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
