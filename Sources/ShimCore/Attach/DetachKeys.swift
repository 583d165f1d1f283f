/// The key sequence that detaches an attach client without touching the
/// container, in podman's syntax: comma-separated keys, each a single
/// character or `ctrl-<x>` with x one of a-z, @, [, \, ], ^, _ (and `DEL`).
/// The default is ctrl-p,ctrl-q; an empty sequence disables detaching.
public struct DetachKeys: Equatable, Sendable {
    public let bytes: [UInt8]

    public static let defaultSpec = "ctrl-p,ctrl-q"
    public static let `default` = DetachKeys(bytes: [0x10, 0x11])
    public static let none = DetachKeys(bytes: [])

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var isEnabled: Bool { !bytes.isEmpty }

    /// Parses a key spec; the error names the key that is wrong.
    public static func parse(_ spec: String) throws(CoreError) -> DetachKeys {
        if spec.isEmpty { return .none }
        var bytes: [UInt8] = []
        for key in spec.split(separator: ",", omittingEmptySubsequences: false) {
            bytes.append(try code(for: key, in: spec))
        }
        return DetachKeys(bytes: bytes)
    }

    private static func code(for key: Substring, in spec: String) throws(CoreError) -> UInt8 {
        let utf8 = Array(key.utf8)
        if utf8.count == 1 { return utf8[0] }
        if key == "DEL" { return 0x7f }
        let prefix = Array("ctrl-".utf8)
        if utf8.count == prefix.count + 1, utf8.prefix(prefix.count).map({ $0 | 0x20 }) == prefix {
            let c = utf8[prefix.count]
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A") + 1
            case UInt8(ascii: "@"): return 0
            case UInt8(ascii: "["): return 27
            case UInt8(ascii: "\\"): return 28
            case UInt8(ascii: "]"): return 29
            case UInt8(ascii: "^"): return 30
            case UInt8(ascii: "_"): return 31
            default: break
            }
        }
        let shown = key.isEmpty ? "an empty key" : "\"\(key)\""
        throw .invalid("invalid detach keys \"\(spec)\": \(shown) is not a key: use a single character or ctrl-<x> with x one of a-z, @, [, \\, ], ^, _ (separated by commas, e.g. \(defaultSpec))")
    }
}

/// Finds the detach sequence in a stream of input that may arrive in any
/// chunking: bytes that could begin the sequence are held back until it is
/// clear whether they do; bytes that turn out not to are passed on in order.
/// The sequence itself is never passed on.
public struct DetachKeyMatcher: Sendable {
    public let keys: DetachKeys
    /// A prefix of the sequence, seen but not yet passed on.
    private var held: [UInt8] = []

    public init(keys: DetachKeys) { self.keys = keys }

    /// Feeds a chunk; `forward` is what goes to the process, `detached`
    /// whether the sequence completed (input after it is dropped).
    public mutating func feed<C: Collection>(_ chunk: C) -> (forward: [UInt8], detached: Bool) where C.Element == UInt8 {
        guard keys.isEnabled else { return (Array(chunk), false) }
        var forward: [UInt8] = []
        for byte in chunk {
            held.append(byte)
            // Shift out bytes until what is held is again a prefix of the
            // sequence (a failed match may still end in the start of one).
            while !held.isEmpty && !keys.bytes.starts(with: held) {
                forward.append(held.removeFirst())
            }
            if held.count == keys.bytes.count {
                held = []
                return (forward, true)
            }
        }
        return (forward, false)
    }

    /// Bytes held back as a possible start of the sequence: passed on when
    /// the input ends.
    public mutating func flush() -> [UInt8] {
        defer { held = [] }
        return held
    }
}
