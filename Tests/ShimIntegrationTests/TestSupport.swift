import Foundation
import XCTest

/// What integration tests share: where the built binaries are, and scratch
/// directories that are removed when the test ends.
enum TestSupport {
    /// The package root, for fixtures such as Tests/Transcripts.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `ocishim` binary under test: $OCISHIM_BIN, else the one built next
    /// to this test bundle, else the newest `.build*/debug/ocishim`.
    static func ocishim() throws -> String {
        try builtProduct("ocishim", environmentVariable: "OCISHIM_BIN")
    }

    /// The `ocictl` binary: $OCICTL_BIN, else found like `ocishim()`.
    static func ocictl() throws -> String {
        try builtProduct("ocictl", environmentVariable: "OCICTL_BIN")
    }

    static func builtProduct(_ name: String, environmentVariable: String) throws -> String {
        let fm = FileManager.default
        if let path = ProcessInfo.processInfo.environment[environmentVariable], !path.isEmpty {
            guard fm.isExecutableFile(atPath: path) else {
                throw SupportError("$\(environmentVariable)=\(path) is not an executable file")
            }
            return path
        }
        // swift test runs the bundle from the build directory the products are in.
        if let me = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let sibling = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
            if fm.isExecutableFile(atPath: sibling) { return sibling }
        }
        let candidates = ((try? fm.contentsOfDirectory(atPath: packageRoot.path)) ?? [])
            .filter { $0.hasPrefix(".build") }
            .map { packageRoot.appendingPathComponent($0).appendingPathComponent("debug").appendingPathComponent(name).path }
            .filter { fm.isExecutableFile(atPath: $0) }
        let newest = candidates.max { modified($0) < modified($1) }
        guard let newest else {
            throw SupportError("no built \(name): run `swift build` first or set $\(environmentVariable)")
        }
        return newest
    }

    private static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }

    /// A fresh directory under $TMPDIR, removed when `test` finishes.
    static func makeTemporaryDirectory(prefix: String, for test: XCTestCase) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// Runs a program to completion; returns its exit status and stdout.
    static func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Polls `condition` every 20 ms for up to `seconds`.
    static func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    struct SupportError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
