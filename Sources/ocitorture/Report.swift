import Glibc

/// What one check prints: what it tried, what it found, each expectation
/// (ok or FAIL), and its verdict. A check fails if any expectation failed
/// or it stopped with an error.
final class Report {
    let name: String
    private(set) var failures: [String] = []

    init(name: String) { self.name = name }

    var passed: Bool { failures.isEmpty }

    func tried(_ text: String) { line("tried", text) }
    func found(_ text: String) { line("found", text) }

    /// Records an expectation; returns it.
    @discardableResult
    func expect(_ ok: Bool, _ what: @autoclosure () -> String) -> Bool {
        let text = what()
        if ok {
            line("ok", text)
        } else {
            failures.append(text)
            line("FAIL", text)
        }
        return ok
    }

    func fail(_ what: String) { expect(false, what) }

    private func line(_ tag: String, _ text: String) {
        let pad = String(repeating: " ", count: max(0, 6 - tag.count))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        say("  \(tag):\(pad)\(lines.first ?? "")")
        for more in lines.dropFirst() { say("         \(more)") }
    }
}
