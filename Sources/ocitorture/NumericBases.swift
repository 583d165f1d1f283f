import ShimProtocol
import SwiftProtobuf

/// Minimal valid requests of each method, and what nested messages need
/// to get past their first checks (an ExecRequest needs args).
struct NumericBases {
    let lab: Lab
    let scratch: String
    let createBundle: String
    private var counter = 0
    /// Create's base names the fresh shim's id, known only when the call
    /// is made: the plan holds this placeholder, replaced then.
    let createPlaceholder = Wire.lengthField(1, Array("placeholder".utf8))

    init(lab: Lab, scratch: String, createBundle: String) {
        self.lab = lab
        self.scratch = scratch
        self.createBundle = createBundle
    }

    mutating func unique(_ tag: String) -> String {
        counter += 1
        return "\(tag)-\(counter)"
    }

    func createBase(id: String) -> [UInt8] {
        bytes(Ocishim_V1_CreateRequest.with { $0.id = id; $0.bundle = createBundle })
    }

    mutating func payload(for method: String, live: NumericFields.LiveTarget) -> [UInt8] {
        switch method {
        case "Create": return createPlaceholder
        case "Events": return bytes(Ocishim_V1_EventsRequest.with { $0.noFollow = true })
        case "Attach": return bytes(Ocishim_V1_AttachInput.with { $0.options.stdout = true; $0.options.stderr = true })
        case "AttachResize": return bytes(Ocishim_V1_ResizeRequest.with { $0.height = 24; $0.width = 80 })
        case "Update": return bytes(Ocishim_V1_UpdateRequest.with { $0.resourcesJson = "{}" })
        case "Exec": return bytes(Ocishim_V1_ExecRequest.with { $0.execID = unique("fz-exec"); $0.args = ["true"] })
        case "ExecResize": return bytes(Ocishim_V1_ExecResizeRequest.with { $0.execID = live.ttySession; $0.height = 24; $0.width = 80 })
        case "ExecStop": return Self.stopPlaceholder
        case "ExecState": return bytes(Ocishim_V1_ExecStateRequest.with { $0.execID = live.ttySession })
        case "ExecCleanup": return bytes(Ocishim_V1_ExecCleanupRequest.with { $0.execID = "fz-no-such-session" })
        case "ExecSync": return bytes(Ocishim_V1_ExecSyncRequest.with { $0.exec.args = ["echo", "fuzz"] })
        case "ExecAttachSocketPath": return bytes(Ocishim_V1_ExecAttachSocketPathRequest.with { $0.execID = live.ttySession })
        case "Checkpoint":
            return bytes(Ocishim_V1_CheckpointRequest.with { $0.imagePath = scratch + "/" + unique("checkpoint"); $0.leaveRunning = true })
        default: return []
        }
    }

    /// ExecStop ends its session: each call gets a fresh running one.
    static let stopPlaceholder = Wire.lengthField(1, Array("stop-placeholder".utf8))

    mutating func refresh(_ payload: [UInt8], for method: String, live: NumericFields.LiveTarget) -> [UInt8] {
        guard method == "ExecStop", payload.starts(with: Self.stopPlaceholder) else { return payload }
        let id = unique("fz-stop")
        let _: Ocishim_V1_ExecResponse? = try? live.shim.client.call("Exec", Ocishim_V1_ExecRequest.with {
            $0.execID = id
            $0.args = ["sleep", "1000000"]
        })
        return Wire.lengthField(1, Array(id.utf8)) + payload.dropFirst(Self.stopPlaceholder.count)
    }

    /// What a nested message of `type` carries besides the fuzzed field.
    mutating func nestedBase(_ type: String) -> [UInt8] {
        switch type.split(separator: ".").last.map(String.init) ?? type {
        case "ExecRequest": return bytes(Ocishim_V1_ExecRequest.with { $0.execID = unique("fz-nested"); $0.args = ["true"] })
        case "AttachOptions": return bytes(Ocishim_V1_AttachOptions.with { $0.stdout = true })
        default: return []
        }
    }

    /// The fuzzed field inside the messages of its path, by hand.
    mutating func encode(_ path: ProtoSchema.NumericPath, _ value: FuzzValue) -> [UInt8] {
        var inner = value.field(path.fields.last!.number)
        for field in path.fields.dropLast().reversed() {
            inner = Wire.lengthField(field.number, nestedBase(field.type) + inner)
        }
        return inner
    }

    func bytes<M: SwiftProtobuf.Message>(_ message: M) -> [UInt8] { (try? message.serializedBytes()) ?? [] }
}
