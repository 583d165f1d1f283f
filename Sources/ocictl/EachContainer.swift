import ArgumentParser

/// A command applied to several containers (kill, rm): each is tried; a
/// failure is reported with its id and the others still go on. One id
/// fails as a command on one container does.
enum EachContainer {
    static func run(_ ids: [String], _ command: String, _ body: (String) throws -> Void) throws {
        guard ids.count > 1 else { return try body(ids[0]) }
        var worst: Int32 = 0
        for id in ids {
            do { try body(id) } catch let exit as ExitCode {
                worst = max(worst, exit.rawValue)
            } catch {
                let failure = Failure(error)
                writeErr("ocictl: \(command) \(id): \(failure.message)\n")
                worst = max(worst, failure.exitCode)
            }
        }
        if worst != 0 { throw ExitCode(worst) }
    }
}
