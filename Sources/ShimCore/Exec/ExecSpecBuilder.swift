import ShimSystem

/// Builds the process spec of an exec session as podman's
/// prepareProcessExec does: the container's own process spec from
/// config.json with the session's args, environment appended, cwd,
/// terminal, user (resolved in the container's rootfs), HOME when the
/// environment lacks it, added capabilities and the SELinux label.
/// Pure: the rootfs is only read through the `UserLookup` it is given.
public enum ExecSpecBuilder {
    public static func build(containerProcess: JSONValue?, options: ExecOptions, users: UserLookup,
                             containerProcessLabel: String = "") throws(CoreError) -> JSONValue {
        guard !options.args.isEmpty else { throw .invalid("must provide a command to execute") }
        var spec: JSONValue = containerProcess?.objectValue != nil ? containerProcess! : .object([])

        spec.set("terminal", .bool(options.terminal))
        // The container's console size is for its own terminal, not this one.
        spec.remove("consoleSize")
        spec.set("args", .strings(options.args))

        var env = spec["env"]?.stringArray ?? []
        for entry in options.env {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                throw .invalid("environment entry \"\(entry)\" is not KEY=VALUE")
            }
            env.append(entry)
        }

        if !options.cwd.isEmpty {
            guard options.cwd.hasPrefix("/") else { throw .invalid("working directory \"\(options.cwd)\" must be an absolute path") }
            spec.set("cwd", .string(options.cwd))
        } else if spec["cwd"]?.stringValue == nil {
            spec.set("cwd", .string("/"))
        }

        var user: JSONValue = spec["user"]?.objectValue != nil ? spec["user"]! : .object([])
        let extraGids = try users.groupIDs(options.additionalGroups)
        let home: String
        if !options.user.isEmpty {
            let resolved = try users.resolve(options.user)
            user.set("uid", .int(Int64(resolved.uid)))
            user.set("gid", .int(Int64(resolved.gid)))
            user.set("additionalGids", .array(unique(resolved.additionalGids + extraGids).map { .int(Int64($0)) }))
            home = resolved.home
        } else {
            // The container's user as config.json has it.
            if user["uid"] == nil { user.set("uid", .int(0)) }
            if user["gid"] == nil { user.set("gid", .int(0)) }
            if !extraGids.isEmpty {
                let existing = (user["additionalGids"]?.arrayValue ?? []).compactMap { $0.intValue.map { UInt32(truncatingIfNeeded: $0) } }
                user.set("additionalGids", .array(unique(existing + extraGids).map { .int(Int64($0)) }))
            }
            home = users.home(ofUID: UInt32(truncatingIfNeeded: user["uid"]?.intValue ?? 0))
        }
        spec.set("user", user)

        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=\(home)") }
        spec.set("env", .strings(env))

        if !options.capAdd.isEmpty {
            let added = try options.capAdd.map { name throws(CoreError) in try capabilityName(name) }
            var caps: JSONValue = spec["capabilities"]?.objectValue != nil ? spec["capabilities"]! : .object([])
            for set in ["bounding", "effective", "permitted"] {
                let current = caps[set]?.stringArray ?? []
                caps.set(set, .strings(current + added.filter { !current.contains($0) }))
            }
            spec.set("capabilities", caps)
        }

        let label = options.processLabel.isEmpty ? containerProcessLabel : options.processLabel
        if !label.isEmpty { spec.set("selinuxLabel", .string(label)) }
        return spec
    }

    /// "net_admin", "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; anything that cannot
    /// be a capability name is an error.
    public static func capabilityName(_ name: String) throws(CoreError) -> String {
        var upper = name.uppercased()
        if !upper.hasPrefix("CAP_") { upper = "CAP_" + upper }
        let body = upper.utf8.dropFirst(4)
        guard !body.isEmpty, body.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f }) else {
            throw .invalid("invalid capability \"\(name)\": use a name such as CAP_NET_ADMIN or net_admin")
        }
        return upper
    }

    private static func unique(_ ids: [UInt32]) -> [UInt32] {
        var seen = Set<UInt32>()
        return ids.filter { seen.insert($0).inserted }
    }
}
