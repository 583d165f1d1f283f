import Foundation
import XCTest
@testable import ocictl

/// The ocictl commands the docs show parse as the docs mean them (issue 14,
/// item 11): an `exec` example whose options come after the container id
/// would run the option as the command.
final class DocumentedCommandTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every `ocictl ...` command in the file's code (``` blocks and
    /// `inline` spans), split into words, `# comments` and `;` chains apart.
    private func commands(in file: String) throws -> [[String]] {
        let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        var snippets: [String] = []
        var inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inBlock.toggle(); continue }
            if inBlock { snippets.append(String(line.split(separator: "#", maxSplits: 1).first ?? "")); continue }
            let spans = line.split(separator: "`", omittingEmptySubsequences: false)
            snippets += spans.enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        let parts: [String] = snippets.flatMap { $0.components(separatedBy: ";") }
        return parts.map { part -> [String] in part.split(separator: Character(" ")).map { String($0) } }
            .filter { $0.first == "ocictl" && $0.count > 1 }
    }

    func testExecExamplesPutOptionsBeforeTheId() throws {
        var checked = 0
        for file in ["README.md", "docs/ATTACH-EXEC.md"] {
            // Two words are a mention of the command (`ocictl exec`), not an example.
            for words in try commands(in: file) where words[1] == "exec" && words.count > 2 {
                // A synopsis's optional parts ([-t], [--user U]) count as given;
                // placeholders (ID, CMD...) are fine: only the shape counts.
                let arguments = words.dropFirst().map { word in
                    String(word.drop { $0 == "[" }.reversed().drop { $0 == "]" }.reversed())
                }
                guard let exec = try? OCICtl.parseAsRoot(arguments) as? Exec else {
                    XCTFail("\(file): `\(words.joined(separator: " "))` does not parse")
                    continue
                }
                XCTAssertFalse(exec.arguments.first?.hasPrefix("-") ?? true,
                               "\(file): `\(words.joined(separator: " "))` would run \(exec.arguments.first ?? "nothing") as the command")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 3, "the docs' exec examples were found")
    }

    func testEveryDocumentedCommandIsOne() throws {
        let known = Set(OCICtl.commandNames)
        for file in ["README.md", "docs/ATTACH-EXEC.md", "docs/CHECKPOINT.md"] {
            for words in try commands(in: file) {
                let command = words.dropFirst().first { !$0.hasPrefix("-") && !$0.hasPrefix("/") } ?? ""
                XCTAssertTrue(known.contains(command) || words[1].hasPrefix("-"),
                              "\(file): `\(words.joined(separator: " "))` names no ocictl command")
            }
        }
    }
}
