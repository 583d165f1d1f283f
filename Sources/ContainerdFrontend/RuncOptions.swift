import ContainerdProtocol
import SwiftProtobuf

/// The runtime options containerd passes in an Any (the `options` table of
/// the runtime in containerd's config): containerd's runc shim's
/// `containerd.runc.v1.Options` (what ctr sends, and what a runtime class
/// switching from runc.v2 keeps), taken as they are; or CRI's generic
/// `runtimeoptions.v1.Options`, which CRI sends for any runtime type it does
/// not know: no options, or a config file holding runc's (RuncOptionsFile).
enum RuncOptions {
    struct Invalid: Error, CustomStringConvertible { let description: String }

    static let criOptions = "runtimeoptions.v1.Options"

    /// nil when there are none (no type URL: containerd passes an empty
    /// Any; or CRI's options without a config file).
    static func decode(_ any: Google_Protobuf_Any) throws(Invalid) -> Containerd_Runc_V1_Options? {
        switch any.typeURL {
        case "":
            return nil
        case TypeURL.runcOptions:
            do {
                return try Containerd_Runc_V1_Options(serializedBytes: [UInt8](any.value))
            } catch {
                throw Invalid(description: "cannot decode \(TypeURL.runcOptions): \(error)")
            }
        case criOptions:
            let cri: Runtimeoptions_V1_Options
            do { cri = try Runtimeoptions_V1_Options(serializedBytes: [UInt8](any.value)) } catch {
                throw Invalid(description: "cannot decode \(criOptions): \(error)")
            }
            guard !cri.configPath.isEmpty else { return nil }
            // TypeUrl says what the file holds: runc's options, or unsaid.
            guard cri.typeURL.isEmpty || cri.typeURL == TypeURL.runcOptions else {
                throw Invalid(description: "the runtime options file \(cri.configPath) is said to hold \(cri.typeURL); this shim reads \(TypeURL.runcOptions) from it")
            }
            return try RuncOptionsFile.read(cri.configPath)
        default:
            throw Invalid(description: "unsupported runtime options type \(any.typeURL) (this shim takes \(TypeURL.runcOptions))")
        }
    }

    /// The options `start` reads on its stdin: a serialized Any, or nothing.
    static func decode(startInput bytes: [UInt8]) throws(Invalid) -> Containerd_Runc_V1_Options? {
        guard !bytes.isEmpty else { return nil }
        let any: Google_Protobuf_Any
        do { any = try Google_Protobuf_Any(serializedBytes: bytes) } catch {
            throw Invalid(description: "cannot decode the runtime options on stdin: \(error)")
        }
        return try decode(any)
    }
}
