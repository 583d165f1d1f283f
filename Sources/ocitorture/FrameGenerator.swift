import ShimProtocol
import SwiftProtobuf

/// Frames for the frame fuzzer: valid requests of the methods that cannot
/// end the container (the fuzzer's starting inputs), then mutated: bits
/// flipped, bytes set to boundary values, ranges inserted, deleted,
/// duplicated, truncated, spliced with another starting input; header fields (length, stream id, type, flags) at
/// their extremes; or random bytes altogether.
struct FrameGenerator {
    var random: SeededRandom
    private var seeds: [(method: String, payload: [UInt8], flags: UInt8)] = []
    private(set) var nextStreamID: UInt32 = 1

    /// Header values at the edges of their ranges.
    static let lengthExtremes: [UInt32] = [0, 1, 9, 10, UInt32(FrameHeader.maxDataLength), UInt32(FrameHeader.maxDataLength) + 1,
                                           0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
    static let streamIDExtremes: [UInt32] = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]
    static let typeExtremes: [UInt8] = [0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF]
    static let flagExtremes: [UInt8] = [0, 0x01, 0x02, 0x03, 0x04, 0x07, 0x80, 0xFF]
    static let interestingBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF]

    init(random: SeededRandom, execID: String) {
        self.random = random
        func add<M: SwiftProtobuf.Message>(_ method: String, _ message: M, _ flags: UInt8 = 0) {
            seeds.append((method, (try? message.serializedBytes()) ?? [], flags))
        }
        add("Hello", Ocishim_V1_HelloRequest.with { $0.client = "ocitorture frame fuzzer" })
        add("State", Ocishim_V1_StateRequest())
        add("Capabilities", Ocishim_V1_CapabilitiesRequest())
        add("SupportsCheckpoint", Ocishim_V1_SupportsCheckpointRequest())
        add("Events", Ocishim_V1_EventsRequest.with { $0.noFollow = true }, FrameFlags.remoteClosed.rawValue)
        add("Events", Ocishim_V1_EventsRequest.with { $0.afterSeq = 3 }, FrameFlags.remoteClosed.rawValue)
        add("Attach", Ocishim_V1_AttachInput.with { $0.options.stdout = true; $0.options.stderr = true },
            FrameFlags.remoteOpen.rawValue)
        add("AttachResize", Ocishim_V1_ResizeRequest.with { $0.height = 40; $0.width = 120 })
        add("ExecState", Ocishim_V1_ExecStateRequest.with { $0.execID = execID })
        add("ExecResize", Ocishim_V1_ExecResizeRequest.with { $0.execID = execID; $0.height = 30; $0.width = 80 })
        add("AttachSocketPath", Ocishim_V1_AttachSocketPathRequest())
        add("ExecAttachSocketPath", Ocishim_V1_ExecAttachSocketPathRequest.with { $0.execID = execID })
        add("ExitFilePath", Ocishim_V1_ExitFilePathRequest())
        add("Start", Ocishim_V1_StartRequest())
        add("Resume", Ocishim_V1_ResumeRequest())
        add("NoSuchMethod", Ocishim_V1_HelloRequest())
    }

    mutating func streamID() -> UInt32 {
        defer { nextStreamID &+= 2 }
        return nextStreamID
    }

    /// A valid request frame of a seed (a fresh stream id).
    mutating func seedFrame(_ index: Int? = nil) -> [UInt8] {
        let seed = seeds[index ?? Int.random(in: 0..<seeds.count, using: &random)]
        var request = Ttrpc_Request()
        request.service = ShimService.name
        request.method = seed.method
        request.payload = .init(seed.payload)
        let bytes = (try? request.serializedBytes()) ?? []
        return Wire.frameHeader(length: UInt32(bytes.count), streamID: streamID(), type: 1, flags: seed.flags) + bytes
    }

    /// A frame whose header length matches what is sent (the decoder stays
    /// in step): the payload mutated, or the header's id/type/flags at
    /// extremes, or random content. For the engine's stdio, which must stay
    /// usable for the probes in between.
    mutating func framedInput() -> [UInt8] {
        let frame = seedFrame()
        var header = Array(frame[0..<10])
        var payload = Array(frame[10...])
        switch Int.random(in: 0..<10, using: &random) {
        case 0...5:
            payload = mutate(payload, rounds: Int.random(in: 1...4, using: &random))
        case 6:
            // Ids the shim must refuse (even, zero, reused) without raising
            // the connection's last id: a high one would make every later
            // request a reuse, and the rest of the run would test only that.
            // The full range of ids goes to the socket connections.
            let used = nextStreamID > 4 ? nextStreamID - 4 : 1
            header[4..<8] = ArraySlice(Wire.bigEndian([0, 2, used, nextStreamID + 1].randomElement(using: &random)!))
        case 7:
            header[8] = Self.typeExtremes.randomElement(using: &random)!
            header[9] = Self.flagExtremes.randomElement(using: &random)!
        case 8:
            payload = randomBytes(Int.random(in: 0...512, using: &random))
        default:
            // A data frame (type 3) on a stream that may or may not be open.
            header[8] = 3
            header[9] = Self.flagExtremes.randomElement(using: &random)!
            payload = mutate(payload, rounds: 1)
        }
        header[0..<4] = ArraySlice(Wire.bigEndian(UInt32(payload.count)))
        return header + payload
    }

    /// Anything: the framing itself broken too (lengths that do not match,
    /// truncated headers, random bytes). For socket connections, which are
    /// closed after each batch.
    mutating func anyInput() -> [UInt8] {
        switch Int.random(in: 0..<8, using: &random) {
        case 0...3:
            return mutate(seedFrame(), rounds: Int.random(in: 1...6, using: &random))
        case 4:
            return framedInput()
        case 5:
            return randomBytes(Int.random(in: 0...2048, using: &random))
        case 6:
            let frame = seedFrame()
            return Array(frame.prefix(Int.random(in: 0..<frame.count, using: &random)))
        default:
            var frame = seedFrame()
            frame[0..<4] = ArraySlice(Wire.bigEndian(Self.lengthExtremes.randomElement(using: &random)!))
            return frame
        }
    }

    mutating func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    mutating func mutate(_ input: [UInt8], rounds: Int) -> [UInt8] {
        var bytes = input
        for _ in 0..<rounds {
            let n = bytes.count
            switch Int.random(in: 0..<8, using: &random) {
            case 0 where n > 0:
                let i = Int.random(in: 0..<n, using: &random)
                bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where n > 0:
                bytes[Int.random(in: 0..<n, using: &random)] = Self.interestingBytes.randomElement(using: &random)!
            case 2:
                let at = Int.random(in: 0...n, using: &random)
                bytes.insert(contentsOf: randomBytes(Int.random(in: 1...16, using: &random)), at: at)
            case 3 where n > 1:
                let a = Int.random(in: 0..<n, using: &random)
                let b = min(n, a + Int.random(in: 1...16, using: &random))
                bytes.removeSubrange(a..<b)
            case 4 where n > 1:
                let a = Int.random(in: 0..<n, using: &random)
                let b = min(n, a + Int.random(in: 1...32, using: &random))
                bytes.insert(contentsOf: bytes[a..<b], at: Int.random(in: 0...n, using: &random))
            case 5 where n > 0:
                bytes.removeLast(Int.random(in: 1...n, using: &random))
            case 6:
                let other = seeds.randomElement(using: &random)!.payload
                let cut = Int.random(in: 0...n, using: &random)
                bytes = Array(bytes.prefix(cut)) + other.suffix(Int.random(in: 0...other.count, using: &random))
            default:
                // A varint field at its extreme appended: unknown field numbers too.
                bytes += Wire.varintField(Int.random(in: 1...40, using: &random), UInt64.max)
            }
        }
        return bytes
    }
}
