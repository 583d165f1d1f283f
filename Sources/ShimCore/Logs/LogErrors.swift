import ShimSystem
import SystemPackage

extension CoreError {
    /// A log file or socket the logger could not set up, with the kind an
    /// engine can act on: a bad path is the request's fault, a full disk is
    /// exhaustion, the rest is internal.
    init(logFailure error: SystemError) {
        let kind: Kind = switch error.errno {
        case .noSuchFileOrDirectory, .notDirectory, .isDirectory, .fileNameTooLong, .tooManySymbolicLinkLevels,
             .readOnlyFileSystem, .invalidArgument, .noSuchAddressOrDevice:
            .invalidArgument
        case .permissionDenied, .notPermitted:
            .permissionDenied
        case .noSpace, .diskQuotaExceeded, .tooManyOpenFiles, .tooManyOpenFilesInSystem:
            .resourceExhausted
        default:
            .internal
        }
        self.init(kind, "log: \(error.description)")
    }
}
