import ShimSystem

/// The user an exec session runs as, resolved from the container's own
/// /etc/passwd and /etc/group as podman's lookup does (runc's
/// GetExecUser rules):
///
/// - `name` or `uid`: the passwd entry gives uid, gid and home; the groups
///   listing the user by name become supplementary groups. A numeric uid
///   without an entry is used as is (gid 0, home /).
/// - `user:group` with `group` a name or gid: that group is the primary one
///   and there are no implicit supplementary groups. A numeric gid without
///   an entry is used as is.
/// - A name that is in neither file is an error naming the file.
public struct ExecUser: Equatable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]
    public var home: String

    public init(uid: UInt32, gid: UInt32, additionalGids: [UInt32] = [], home: String = "/") {
        self.uid = uid
        self.gid = gid
        self.additionalGids = additionalGids
        self.home = home
    }
}

public struct UserLookup: Sendable {
    struct PasswdEntry: Equatable { var name: String; var uid: UInt32; var gid: UInt32; var home: String }
    struct GroupEntry: Equatable { var name: String; var gid: UInt32; var members: [String] }

    let passwd: [PasswdEntry]
    let group: [GroupEntry]
    /// Which files were there, for error messages.
    let passwdPath: String?
    let groupPath: String?
    /// Why a file that exists could not be used ("/etc/passwd: not a regular
    /// file (a FIFO)"), for error messages.
    private(set) var passwdProblem: String?
    private(set) var groupProblem: String?

    /// Reads the rootfs's /etc/passwd and /etc/group (either may be missing).
    /// The container owns these files and may change them at any moment: they
    /// are opened inside the rootfs (no symlink reaches the host), without
    /// blocking (a FIFO is refused, not waited on), and at most 16 MiB each.
    public init(rootfs: String) {
        let passwd = Self.readContainerFile("/etc/passwd", in: rootfs)
        let group = Self.readContainerFile("/etc/group", in: rootfs)
        self.init(passwd: passwd.text, group: group.text)
        self.passwdProblem = passwd.problem
        self.groupProblem = group.problem
    }

    /// From file contents (nil: the file does not exist).
    public init(passwd passwdText: String?, group groupText: String?) {
        passwd = passwdText.map(Self.parsePasswd) ?? []
        group = groupText.map(Self.parseGroup) ?? []
        passwdPath = passwdText == nil ? nil : "/etc/passwd"
        groupPath = groupText == nil ? nil : "/etc/group"
        passwdProblem = nil
        groupProblem = nil
    }

    static let fileLimit = 16 << 20

    /// The file's text; nil when it is missing or unusable (then `problem`
    /// says why).
    static func readContainerFile(_ path: String, in rootfs: String) -> (text: String?, problem: String?) {
        do throws(SystemError) {
            let bytes: [UInt8]?
            do throws(SystemError) {
                bytes = try FileSystem.readInRoot(rootfs, path, limit: fileLimit)
            } catch where error.errno == .noFunction {
                // Kernels before 5.6: resolve inside the root by hand, then
                // refuse a symlink swapped in since.
                guard let host = ScopedPath.resolve(path, in: rootfs) else {
                    return (nil, "\(path): symlink loop in the container's rootfs")
                }
                bytes = try FileSystem.readIfExists(host, limit: fileLimit, followSymlinks: false)
            }
            return (bytes.map { String(decoding: $0, as: UTF8.self) }, nil)
        } catch {
            return (nil, "\(path): \(error.reason ?? error.errno.description)")
        }
    }

    private func missing(_ what: String, in path: String?, problem: String?, file: String) -> String {
        if let problem { return "unable to find \(what): the container's \(problem)" }
        return "unable to find \(what): no matching entries in \(path ?? "\(file) file (the container has no /etc/\(file))")"
    }

    /// Resolves `spec` ("name", "uid", "uid:gid", "name:group").
    public func resolve(_ spec: String) throws(CoreError) -> ExecUser {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let userArg = String(parts[0])
        let groupArg = parts.count > 1 ? String(parts[1]) : ""
        if parts.count > 1 && groupArg.isEmpty {
            throw .invalid("invalid user \"\(spec)\": the group after ':' is empty")
        }

        var user = ExecUser(uid: 0, gid: 0)
        var matchedName: String?
        let numericUID = Self.id(userArg)
        if let entry = passwd.first(where: { numericUID != nil ? $0.uid == numericUID! : $0.name == userArg }) {
            user = ExecUser(uid: entry.uid, gid: entry.gid, home: entry.home)
            matchedName = entry.name
        } else if let numericUID {
            user.uid = numericUID
        } else if userArg.isEmpty {
            throw .invalid("invalid user \"\(spec)\": the user before ':' is empty")
        } else {
            throw .invalid(missing("user \(userArg)", in: passwdPath, problem: passwdProblem, file: "passwd"))
        }

        if !groupArg.isEmpty {
            let numericGID = Self.id(groupArg)
            if let entry = group.first(where: { $0.name == groupArg || (numericGID != nil && $0.gid == numericGID!) }) {
                user.gid = entry.gid
            } else if let numericGID {
                user.gid = numericGID
            } else {
                throw .invalid(missing("group \(groupArg)", in: groupPath, problem: groupProblem, file: "group"))
            }
        } else if let matchedName {
            // Implicit form: every group that lists the user by name.
            user.additionalGids = group.filter { $0.members.contains(matchedName) }.map(\.gid)
        }
        return user
    }

    /// Supplementary groups given by name or gid (podman's GetContainerGroups).
    public func groupIDs(_ names: [String]) throws(CoreError) -> [UInt32] {
        var out: [UInt32] = []
        for name in names {
            if let gid = Self.id(name) {
                out.append(gid)
            } else if let entry = group.first(where: { $0.name == name }) {
                out.append(entry.gid)
            } else {
                throw .invalid(missing("group \(name)", in: groupPath, problem: groupProblem, file: "group"))
            }
        }
        return out
    }

    /// The home directory of `uid`, "/" when it has no entry.
    public func home(ofUID uid: UInt32) -> String {
        passwd.first { $0.uid == uid }?.home ?? "/"
    }

    /// A decimal id in 0...2^31-1, as runc accepts.
    static func id(_ text: String) -> UInt32? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = UInt32(text),
              value <= UInt32(Int32.max) else { return nil }
        return value
    }

    // --- the files -----------------------------------------------------------------

    /// name:password:uid:gid:gecos:home:shell; malformed lines are skipped.
    static func parsePasswd(_ text: String) -> [PasswdEntry] {
        lines(text).compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, let uid = id(String(f[2])), let gid = id(String(f[3])) else { return nil }
            return PasswdEntry(name: String(f[0]), uid: uid, gid: gid, home: f.count > 5 && !f[5].isEmpty ? String(f[5]) : "/")
        }
    }

    /// name:password:gid:member,member
    static func parseGroup(_ text: String) -> [GroupEntry] {
        lines(text).compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 3, let gid = id(String(f[2])) else { return nil }
            let members = f.count > 3 ? f[3].split(separator: ",").map { String($0.trimmingBlanks) }.filter { !$0.isEmpty } : []
            return GroupEntry(name: String(f[0]), gid: gid, members: members)
        }
    }

    private static func lines(_ text: String) -> [Substring] {
        text.split(separator: "\n").map(\.trimmingBlanks).filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}

extension Substring {
    var trimmingBlanks: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return s
    }
}
