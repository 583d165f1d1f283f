import ArgumentParser
import Glibc
import ShimClient
import ShimProtocol
import ShimSystem

/// `runc update`'s options: the container's resources (an OCI LinuxResources
/// document) changed while it runs.
struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a running container's resources (runc update).",
        discussion: """
            Give an OCI LinuxResources document with -r (a file, or - for stdin), options, or \
            both (the options win). Sizes take k, m, g suffixes (1024-based); -1 is unlimited. \
            Example: `ocictl update --memory 256m --pids-limit 100 c1`.
            """)
    @OptionGroup var address: ShimAddress
    @Option(name: [.customShort("r"), .customLong("resources")], help: "A LinuxResources JSON file, or - for stdin.")
    var resources: String?
    @Option(help: "Memory limit (e.g. 256m).") var memory: String?
    @Option(name: .customLong("memory-reservation"), help: "Memory soft limit.") var memoryReservation: String?
    @Option(name: .customLong("memory-swap"), help: "Memory plus swap limit.") var memorySwap: String?
    @Option(name: [.customLong("cpu-shares"), .customLong("cpu-share")], help: "CPU shares (relative weight).") var cpuShares: UInt64?
    @Option(name: .customLong("cpu-quota"), help: "CPU CFS quota, microseconds per period.") var cpuQuota: Int64?
    @Option(name: .customLong("cpu-period"), help: "CPU CFS period, microseconds.") var cpuPeriod: UInt64?
    @Option(name: .customLong("cpu-rt-runtime"), help: "Realtime runtime, microseconds per period.") var cpuRealtimeRuntime: Int64?
    @Option(name: .customLong("cpu-rt-period"), help: "Realtime period, microseconds.") var cpuRealtimePeriod: UInt64?
    @Option(name: .customLong("cpuset-cpus"), help: "CPUs to run on (e.g. 0-2,4).") var cpusetCpus: String?
    @Option(name: .customLong("cpuset-mems"), help: "Memory nodes to use.") var cpusetMems: String?
    @Option(name: .customLong("pids-limit"), help: "Maximum number of processes (-1: unlimited).") var pidsLimit: Int64?
    @Option(name: .customLong("blkio-weight"), help: "Block IO weight, 10 to 1000.") var blkioWeight: UInt16?
    @Argument(help: "The container id.") var id: String

    func validate() throws {
        for (name, value) in [("memory", memory), ("memory-reservation", memoryReservation), ("memory-swap", memorySwap)] {
            if let value, ByteSize.parse(value) == nil {
                throw ValidationError("--\(name) \(value) is not a size (bytes, or a number with k, m or g)")
            }
        }
        if let blkioWeight, !(10...1000).contains(blkioWeight) { throw ValidationError("--blkio-weight must be 10 to 1000") }
    }

    func run() throws {
        var document = try baseDocument()
        func set(_ section: String, _ key: String, _ value: JSONValue?) {
            guard let value else { return }
            var object = document[section] ?? .object([])
            object.set(key, value)
            document.set(section, object)
        }
        set("memory", "limit", memory.flatMap(ByteSize.parse).map { .int($0) })
        set("memory", "reservation", memoryReservation.flatMap(ByteSize.parse).map { .int($0) })
        set("memory", "swap", memorySwap.flatMap(ByteSize.parse).map { .int($0) })
        set("cpu", "shares", cpuShares.map { .int(Int64(clamping: $0)) })
        set("cpu", "quota", cpuQuota.map { .int($0) })
        set("cpu", "period", cpuPeriod.map { .int(Int64(clamping: $0)) })
        set("cpu", "realtimeRuntime", cpuRealtimeRuntime.map { .int($0) })
        set("cpu", "realtimePeriod", cpuRealtimePeriod.map { .int(Int64(clamping: $0)) })
        set("cpu", "cpus", cpusetCpus.map { .string($0) })
        set("cpu", "mems", cpusetMems.map { .string($0) })
        set("pids", "limit", pidsLimit.map { .int($0) })
        set("blockIO", "weight", blkioWeight.map { .int(Int64($0)) })
        guard document.objectValue?.isEmpty == false else {
            throw CLIError("nothing to update: give -r FILE or a resource option (see `ocictl update --help`)")
        }
        let client = try address.connect(id)
        defer { client.close() }
        let _: Ocishim_V1_UpdateResponse = try client.call("Update", Ocishim_V1_UpdateRequest.with {
            $0.resourcesJson = document.serialized
        })
    }

    private func baseDocument() throws -> JSONValue {
        guard let resources else { return .object([]) }
        let bytes: [UInt8]
        do {
            bytes = resources == "-" ? try FileSystem.readAll(fd: .standardInput, limit: 1 << 20, what: "stdin")
                                     : try FileSystem.read(resources, limit: 1 << 20)
        } catch {
            throw CLIError("cannot read \(resources == "-" ? "stdin" : resources): \(error)")
        }
        guard let document = try? JSONValue(parsing: bytes), document.objectValue != nil else {
            throw CLIError("\(resources == "-" ? "stdin" : resources) is not a JSON object (an OCI LinuxResources document)")
        }
        return document
    }
}

/// Sizes as runc and docker take them: bytes, or k/m/g (1024-based, with
/// or without a trailing b); -1 for unlimited.
enum ByteSize {
    static func parse(_ text: String) -> Int64? {
        if text == "-1" { return -1 }
        var digits = Substring(text.lowercased())
        if digits.hasSuffix("b") && digits.count > 1 { digits = digits.dropLast() }
        let scale: Int64
        switch digits.last {
        case "k": scale = 1 << 10
        case "m": scale = 1 << 20
        case "g": scale = 1 << 30
        case "t": scale = 1 << 40
        default: scale = 1
        }
        if scale > 1 { digits = digits.dropLast() }
        guard let value = Int64(digits), value >= 0 else { return nil }
        let (result, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : result
    }
}
