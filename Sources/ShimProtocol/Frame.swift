/// The ttrpc v1.2 frame (containerd/ttrpc PROTOCOL.md):
///
///     uint32 BE data length | uint32 BE stream id | uint8 type | uint8 flags | data
///
/// Client-initiated streams use odd ids. The data length is at most 4 MiB.
public enum FrameType: UInt8, Sendable, CustomStringConvertible {
    case request = 1
    case response = 2
    case data = 3

    public var description: String {
        switch self {
        case .request: "request"
        case .response: "response"
        case .data: "data"
        }
    }
}

/// Flags of request and data frames.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// No more data will come from the sender on this stream.
    public static let remoteClosed = FrameFlags(rawValue: 0x01)
    /// (request) The sender will stream data after the request.
    public static let remoteOpen = FrameFlags(rawValue: 0x02)
    /// (data) The frame carries no data, only flags.
    public static let noData = FrameFlags(rawValue: 0x04)
}

public struct FrameHeader: Sendable, Equatable {
    public static let size = 10
    /// Largest data length a peer may send (4 MiB, as ttrpc's messageLengthMax).
    public static let maxDataLength = 4 << 20

    public var length: UInt32
    public var streamID: UInt32
    /// The raw type byte: unknown types are kept so the dispatcher can ignore
    /// them as ttrpc does (for compatibility with later protocol versions).
    public var rawType: UInt8
    public var flags: FrameFlags

    public var type: FrameType? { FrameType(rawValue: rawType) }

    public init(length: UInt32, streamID: UInt32, type: FrameType, flags: FrameFlags = []) {
        self.init(length: length, streamID: streamID, rawType: type.rawValue, flags: flags)
    }

    public init(length: UInt32, streamID: UInt32, rawType: UInt8, flags: FrameFlags) {
        self.length = length
        self.streamID = streamID
        self.rawType = rawType
        self.flags = flags
    }

    /// Decodes the first 10 bytes of `bytes`.
    public init<C: Collection>(decoding bytes: C) where C.Element == UInt8 {
        precondition(bytes.count >= FrameHeader.size)
        var i = bytes.startIndex
        func next() -> UInt8 {
            defer { i = bytes.index(after: i) }
            return bytes[i]
        }
        func u32() -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 { v = v << 8 | UInt32(next()) }
            return v
        }
        length = u32()
        streamID = u32()
        rawType = next()
        flags = FrameFlags(rawValue: next())
    }

    /// Writes the header to the first `size` bytes of `out`: a frame can go
    /// out as header and payload gathered, without copying the payload.
    public func encode(to out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= FrameHeader.size)
        out.storeBytes(of: length.bigEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: streamID.bigEndian, toByteOffset: 4, as: UInt32.self)
        out[8] = rawType
        out[9] = flags.rawValue
    }

    public func encode(into out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: streamID >> UInt32(shift))) }
        out.append(rawType)
        out.append(flags.rawValue)
    }
}

/// A whole frame: header fields plus its data.
public struct Frame: Sendable, Equatable {
    public var streamID: UInt32
    public var rawType: UInt8
    public var flags: FrameFlags
    public var payload: [UInt8]

    public var type: FrameType? { FrameType(rawValue: rawType) }

    public init(streamID: UInt32, type: FrameType, flags: FrameFlags = [], payload: [UInt8] = []) {
        self.init(streamID: streamID, rawType: type.rawValue, flags: flags, payload: payload)
    }

    public init(streamID: UInt32, rawType: UInt8, flags: FrameFlags, payload: [UInt8]) {
        self.streamID = streamID
        self.rawType = rawType
        self.flags = flags
        self.payload = payload
    }

    /// The frame's bytes on the wire.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(FrameHeader.size + payload.count)
        encode(into: &out)
        return out
    }

    /// The header describing this frame's payload.
    public var header: FrameHeader {
        FrameHeader(length: UInt32(payload.count), streamID: streamID, rawType: rawType, flags: flags)
    }

    public func encode(into out: inout [UInt8]) {
        FrameHeader(length: UInt32(payload.count), streamID: streamID, rawType: rawType, flags: flags)
            .encode(into: &out)
        out.append(contentsOf: payload)
    }
}
