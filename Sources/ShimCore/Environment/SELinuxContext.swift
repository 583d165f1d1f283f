/// An SELinux security context, "user:role:type[:level]".
///
/// The level is everything after the third colon, because an MLS/MCS level
/// has colons of its own: "s0:c1,c2", or the range "s0-s0:c0.c1023". A plain
/// split on ":" would cut it apart and re-join it wrongly.
public struct SELinuxContext: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var role: String
    public var type: String
    /// "" when the context has no level (a policy without MLS).
    public var level: String

    public init(user: String, role: String, type: String, level: String = "") {
        self.user = user
        self.role = role
        self.type = type
        self.level = level
    }

    /// Parses a context as getcon(3) or a container's process label gives it.
    public init(parsing label: String) throws(CoreError) {
        // maxSplits 3: the fourth piece keeps the level's own colons.
        let fields = label.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 3 else {
            throw .invalid("invalid SELinux context \"\(label)\": want user:role:type[:level], found \(fields.count) field\(fields.count == 1 ? "" : "s")")
        }
        for (name, value) in zip(["user", "role", "type"], fields) where value.isEmpty {
            throw .invalid("invalid SELinux context \"\(label)\": the \(name) is empty")
        }
        if fields.count == 4 && fields[3].isEmpty {
            throw .invalid("invalid SELinux context \"\(label)\": the level after the last colon is empty")
        }
        self.init(user: fields[0], role: fields[1], type: fields[2], level: fields.count == 4 ? fields[3] : "")
    }

    /// The context in its text form; without a level when there is none.
    public var string: String {
        level.isEmpty ? "\(user):\(role):\(type)" : "\(user):\(role):\(type):\(level)"
    }

    public var description: String { string }

    /// The same context at another level.
    public func withLevel(_ level: String) -> SELinuxContext {
        var copy = self
        copy.level = level
        return copy
    }
}
