import Glibc
import ShimSystem

// What the container log is made of: the streams it records and the drivers
// (conmon's --log-path, --log-size-max, --log-tag, --name) that store it.

/// The container output stream a chunk was read from. A terminal's output is
/// all `.stdout`, as in conmon.
public enum LogStream: Sendable {
    case stdout, stderr

    /// The name CRI log records carry.
    var name: String {
        switch self {
        case .stdout: "stdout"
        case .stderr: "stderr"
        }
    }
}

/// One place the log goes. Several may be active at once; every record goes
/// to each of them, in the order they are listed.
public enum LogDriverKind: Equatable, Sendable {
    /// The CRI ("k8s-file") format in a file, as conmon writes it.
    case k8sFile(path: String)
    /// The systemd journal's native protocol, one datagram per record.
    case journald(socketPath: String = LogDriverKind.defaultJournalSocket)
    /// Discard (conmon's "none", "off", "null").
    case none

    public static let defaultJournalSocket = "/run/systemd/journal/socket"
}

public struct LogConfig: Sendable {
    /// Empty, or only `.none`: nothing is logged.
    public var drivers: [LogDriverKind]
    /// k8s-file only. <= 0: unlimited. Otherwise, when the next record would
    /// take the file past this size, the file starts over (conmon), or is
    /// rotated when `maxFiles` > 0. A single record larger than the limit is
    /// still written whole, so a file exceeds the limit by at most one record.
    public var sizeMax: Int64
    /// k8s-file only. 0: start over in an empty file, as conmon does.
    /// N > 0: keep N old files (path.1 newest ... path.N oldest).
    public var maxFiles: Int
    /// journald's CONTAINER_TAG and SYSLOG_IDENTIFIER. Like conmon, a tag
    /// without the journald driver is refused: k8s-file has nowhere to put it.
    public var tag: String
    /// journald's CONTAINER_ID_FULL; its first 12 characters are CONTAINER_ID.
    public var containerID: String
    /// journald's CONTAINER_NAME and, without a tag, SYSLOG_IDENTIFIER.
    /// Empty: no CONTAINER_NAME and the short id as SYSLOG_IDENTIFIER, which is
    /// what conmon does without --name.
    public var containerName: String
    /// k8s-file: a symlink at the path is followed (conmon's behaviour)
    /// instead of refused.
    public var followSymlinks = false
    /// k8s-file only. > 0: once the records written (over all files, since
    /// the logger opened) reach this many bytes, later output is dropped
    /// (conmon's --log-global-size-max).
    public var totalSizeMax: Int64 = -1
    /// journald only: extra fields, each "NAME=VALUE" (conmon 2.2's --log-label).
    public var labels: [String] = []
    /// journald only: partial lines carry CONTAINER_PARTIAL_MESSAGE=true.
    public var partialMessageField = true
    /// `reopen()` starts the k8s-file over (rotates when `maxFiles` > 0), as
    /// conmon answers a reopen request, instead of reopening the path.
    public var reopenStartsOver = false
    /// The mode of log files the logger creates.
    public var fileMode: mode_t = 0o600
    /// k8s-file only: no record holds more than this many bytes of a line
    /// (its newline counted); a longer one is written as P records of this
    /// size and the rest (conmon: 8192, its read buffer). nil: a line is
    /// held whole up to 16 KiB, and one that comes in one read is one record
    /// whatever its length.
    public var recordLimit: Int?

    public init(drivers: [LogDriverKind], sizeMax: Int64 = -1, maxFiles: Int = 0, tag: String = "",
                containerID: String, containerName: String = "", followSymlinks: Bool = false) {
        self.followSymlinks = followSymlinks
        self.drivers = drivers
        self.sizeMax = sizeMax
        self.maxFiles = maxFiles
        self.tag = tag
        self.containerID = containerID
        self.containerName = containerName
    }

    /// The drivers that do something, each once (conmon treats a repeated
    /// driver as one).
    var activeDrivers: [LogDriverKind] {
        var seen: [LogDriverKind] = []
        for driver in drivers where driver != .none && !seen.contains(driver) {
            seen.append(driver)
        }
        return seen
    }

    /// What is wrong with a configuration, as conmon checks it at start-up;
    /// front ends word it their own way (ConmonFrontend with conmon's
    /// messages, `validate` with the core's).
    public enum Problem: Equatable, Sendable {
        case negativeMaxFiles(Int)
        case emptyFilename
        case nulInPath
        case badJournalSocket(String)
        /// A tag only goes to journald; k8s-file has nowhere to put it.
        case tagWithoutJournald
        /// journald's CONTAINER_ID is the id's first `minimum` characters.
        case containerIDTooShort(minimum: Int)
    }

    /// journald's CONTAINER_ID: the container id's first characters; a
    /// journald log needs a longer id than this.
    public static let journaldShortIDLength = JournalFields.shortIDLength

    /// The first problem in conmon's order, nil when there is none.
    public var problem: Problem? {
        if maxFiles < 0 { return .negativeMaxFiles(maxFiles) }
        var hasJournald = false
        var hasFile = false
        for driver in activeDrivers {
            switch driver {
            case .k8sFile(let path):
                if path.isEmpty { return .emptyFilename }
                if path.utf8.contains(0) { return .nulInPath }
                hasFile = true
            case .journald(let socketPath):
                if socketPath.isEmpty || socketPath.utf8.count > UnixSocket.maxPathLength || socketPath.utf8.contains(0) {
                    return .badJournalSocket(socketPath)
                }
                hasJournald = true
            case .none:
                break
            }
        }
        if hasFile && !hasJournald && !tag.isEmpty { return .tagWithoutJournald }
        if hasJournald && containerID.utf8.count <= JournalFields.shortIDLength {
            return .containerIDTooShort(minimum: JournalFields.shortIDLength)
        }
        return nil
    }

    /// The start-up checks as the core's errors.
    func validate() throws(CoreError) {
        guard let problem else { return }
        switch problem {
        case .negativeMaxFiles(let n): throw .invalid("log max files must not be negative, got \(n)")
        case .emptyFilename: throw .invalid("k8s-file requires a filename")
        case .nulInPath: throw .invalid("log path must not contain a NUL byte")
        case .badJournalSocket(let path):
            throw .invalid("journald socket path \"\(path)\" must be 1 to \(UnixSocket.maxPathLength) bytes")
        case .tagWithoutJournald: throw .invalid("k8s-file doesn't support a log tag (the tag only goes to journald)")
        case .containerIDTooShort(let minimum):
            throw .invalid("journald logging needs a container ID longer than \(minimum) characters, got \"\(containerID)\"")
        }
    }
}

extension LogOptions {
    /// The logger's configuration for the container `containerID` (or an
    /// exec session of it); no drivers: k8s-file at `defaultPath`.
    public func config(containerID: String, defaultPath: String) -> LogConfig {
        var config = LogConfig(drivers: drivers.isEmpty ? [.k8sFile(path: defaultPath)] : drivers, sizeMax: sizeMax,
                               maxFiles: maxFiles, tag: tag, containerID: containerID, containerName: containerName)
        config.totalSizeMax = totalSizeMax
        config.labels = labels
        config.partialMessageField = partialMessageField
        config.reopenStartsOver = reopenStartsOver
        config.fileMode = mode_t(fileMode)
        config.followSymlinks = followSymlinks
        config.recordLimit = recordLimit
        return config
    }
}
