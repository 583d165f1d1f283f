import ShimSystem

/// Which distribution package owns a program, as podman's packageVersion
/// reports it: the first package manager that knows the file wins; dpkg's
/// answer is refined to "<package>_<version>_<arch>"; "Unknown" otherwise.
enum PackageQuery {
    static let unknown = "Unknown"

    /// Package managers in podman's order, with their query arguments.
    static let packagers: [[String]] = [
        ["/usr/bin/rpm", "-q", "-f"],
        ["/usr/bin/dpkg", "-S"],
        ["/usr/bin/pacman", "-Qo"],
        ["/usr/bin/qfile", "-qv"],
        ["/usr/bin/equery", "b"],
        ["/sbin/apk", "info", "-W"],
    ]

    static func lookup(_ program: String, runner: CommandRunner, environment: [String],
                       timeoutNanos: Int64, _ done: @escaping (String) -> Void) {
        let available = packagers.filter { FileSystem.isExecutableFile($0[0]) }
        next(available[...], program: program, runner: runner, environment: environment, timeoutNanos: timeoutNanos, done)
    }

    private static func next(_ remaining: ArraySlice<[String]>, program: String, runner: CommandRunner,
                             environment: [String], timeoutNanos: Int64, _ done: @escaping (String) -> Void) {
        guard let packager = remaining.first else { return done(unknown) }
        let query = CommandRunner.Command(path: packager[0], arguments: packager + [program],
                                          environment: environment, timeoutNanos: timeoutNanos)
        let tryNext = { next(remaining.dropFirst(), program: program, runner: runner, environment: environment, timeoutNanos: timeoutNanos, done) }
        do {
            try runner.run(query) { result in
                guard result.succeeded else { return tryNext() }
                var answer = trimNewlines(result.stdoutText)
                if packager[0] == "/sbin/apk" {
                    answer = answer.replacingFirst("\(program) is owned by ", with: "")
                }
                guard packager[0] == "/usr/bin/dpkg", let pkg = dpkgPackageName(answer) else {
                    return done(answer.isEmpty ? unknown : answer)
                }
                refineDpkg(pkg, fallback: answer, runner: runner, environment: environment, timeoutNanos: timeoutNanos, done)
            }
        } catch {
            tryNext()
        }
    }

    /// "runc: /usr/sbin/runc" -> "runc" (dpkg -S prints "<pkg>[, <pkg>...]: <path>").
    static func dpkgPackageName(_ answer: String) -> String? {
        guard let colon = answer.firstRange(of: ": ") else { return nil }
        let name = String(answer[..<colon.lowerBound])
        return name.isEmpty ? nil : name
    }

    private static func refineDpkg(_ pkg: String, fallback: String, runner: CommandRunner, environment: [String],
                                   timeoutNanos: Int64, _ done: @escaping (String) -> Void) {
        let query = CommandRunner.Command(
            path: "/usr/bin/dpkg-query",
            arguments: ["dpkg-query", "-f", "${Package}_${Version}_${Architecture}", "-W", pkg],
            environment: environment, timeoutNanos: timeoutNanos)
        do {
            try runner.run(query) { result in
                let text = trimNewlines(result.stdoutText)
                done(result.succeeded && !text.isEmpty ? text : fallback)
            }
        } catch {
            done(fallback)
        }
    }

    static func trimNewlines(_ s: String) -> String {
        var s = Substring(s)
        while s.first == "\n" { s = s.dropFirst() }
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(r, with: replacement)
        return copy
    }
}
