/// Where the container is in its life, with what each phase carries. The
/// machine is containerd's (pkg/process: created, running, paused, stopped,
/// deleted) with the moments a runtime call is in flight made explicit, so
/// that no sub-state hides in a boolean:
///
///     none -> creating -> created -> starting -> running <-> paused
///               |           |           |           |  \      /  |
///               +-> none    |           +-> created |   checkpointing
///                           v           v           v        |
///                        stopped <------+---------- + <------+
///                           |
///                           v
///                        deleted   (also from created, running, paused:
///                                   a forced delete whose exit never came)
///
/// Every move goes through `ContainerPhase.move(to:)`, which refuses one the
/// table does not list; every operation's precondition comes from
/// `Operation.allowed`.
enum ContainerPhase: Equatable {
    /// No Create yet, or the last one failed.
    case none
    /// The runtime's create (or restore) runs.
    case creating
    case created
    /// The runtime's start runs; an exit seen meanwhile is recorded after
    /// the start, so that a started event always precedes the exit.
    case starting
    case running
    case paused
    /// A checkpoint: the runtime's call runs, or (without leave-running) it
    /// has dumped the container and the init's end is awaited.
    case checkpointing(CheckpointProgress)
    /// Exited, the exit recorded.
    case stopped
    /// Gone from the runtime and the shim; terminal.
    case deleted

    /// The phases without their data: the table's vocabulary.
    enum Kind: String, CaseIterable, Sendable {
        case none, creating, created, starting, running, paused, checkpointing, stopped, deleted
    }

    var kind: Kind {
        switch self {
        case .none: .none
        case .creating: .creating
        case .created: .created
        case .starting: .starting
        case .running: .running
        case .paused: .paused
        case .checkpointing: .checkpointing
        case .stopped: .stopped
        case .deleted: .deleted
        }
    }

    /// Every legal move; anything else is refused.
    static let transitions: [Kind: Set<Kind>] = [
        .none: [.creating],
        .creating: [.none, .created, .running],
        .created: [.starting, .stopped, .deleted],
        .starting: [.running, .created, .stopped],
        .running: [.paused, .checkpointing, .stopped, .deleted],
        .paused: [.running, .checkpointing, .stopped, .deleted],
        .checkpointing: [.running, .paused, .stopped],
        .stopped: [.deleted],
        .deleted: [],
    ]

    static func isLegal(from: Kind, to: Kind) -> Bool {
        transitions[from, default: []].contains(to)
    }

    /// Moves to `next` (a phase may also update its own data in place, e.g.
    /// a checkpoint holding an exit); an illegal move is refused and the
    /// phase stays as it was.
    mutating func move(to next: ContainerPhase) throws(CoreError) {
        guard kind == next.kind || Self.isLegal(from: kind, to: next.kind) else {
            throw .internal("illegal container state change \(kind.rawValue) -> \(next.kind.rawValue)")
        }
        self = next
    }

    /// What State reports: a runtime call in flight shows the phase it
    /// started from.
    var status: ContainerStatus {
        if case .checkpointing(let progress) = self { return progress.fromPaused ? .paused : .running }
        return switch kind {
        case .none, .creating: .none
        case .created, .starting: .created
        case .running, .checkpointing: .running
        case .paused: .paused
        case .stopped: .stopped
        case .deleted: .deleted
        }
    }

    /// The container has a live init (created and not yet exited).
    var isLive: Bool {
        [.created, .starting, .running, .paused, .checkpointing].contains(kind)
    }
}

/// The operations on a container and the phases each is allowed in: the
/// one source of every "cannot X: it is Y" answer.
enum ContainerOperation: String, CaseIterable, Sendable {
    case create, start, kill, stop, pause, resume, update, checkpoint, exec, attach, resize
    /// Delete of a created or stopped container.
    case delete
    /// Delete with force: also a live container (the runtime kills it).
    case forceDelete = "delete with force"

    var allowed: Set<ContainerPhase.Kind> {
        switch self {
        case .create: [.none]
        case .start: [.created]
        case .kill: [.created, .starting, .running, .paused, .checkpointing]
        case .stop: [.created, .starting, .running, .stopped]
        case .pause: [.running]
        case .resume: [.paused]
        case .update: [.created, .starting, .running, .paused]
        case .checkpoint: [.running, .paused]
        case .exec: [.running]
        case .attach, .resize: [.created, .starting, .running, .paused]
        case .delete: [.created, .stopped]
        case .forceDelete: [.created, .running, .paused, .stopped]
        }
    }

    /// The error for this operation in `phase`, nil when it is allowed.
    func refusal(in phase: ContainerPhase, id: String) -> CoreError? {
        let kind = phase.kind
        if allowed.contains(kind) { return nil }
        switch kind {
        case .creating: return .precondition("cannot \(rawValue) container \(id): it is being created")
        case .starting where self == .start: return .precondition("container \(id) is already being started")
        case .checkpointing where self == .checkpoint: return .precondition("container \(id) is already being checkpointed")
        case .checkpointing where self == .delete || self == .forceDelete:
            return .precondition("container \(id) is being checkpointed: delete it once the checkpoint has answered")
        case .paused where self == .stop:
            return .precondition("container \(id) is paused: resume it before stopping it")
        case .running where self == .delete, .paused where self == .delete:
            return .precondition("container \(id) is \(phase.status.rawValue): stop it first or delete with force")
        default:
            let what = kind == .none ? "has not been created" : "is \(phase.status.rawValue)"
            let names = Self.phaseNames(allowed)
            return .precondition("cannot \(rawValue) container \(id): it \(what) (\(rawValue) needs \(names))")
        }
    }

    /// "created, running or paused", in the lifecycle's order, as status
    /// names (phases in flight are not named separately).
    static func phaseNames(_ kinds: Set<ContainerPhase.Kind>) -> String {
        var names: [String] = []
        for kind in ContainerPhase.Kind.allCases where kinds.contains(kind) {
            let name: String
            switch kind {
            case .starting, .creating, .checkpointing: continue
            default: name = kind.rawValue
            }
            if !names.contains(name) { names.append(name) }
        }
        switch names.count {
        case 0: return "nothing"
        case 1: return names[0]
        default: return names.dropLast().joined(separator: ", ") + " or " + names.last!
        }
    }
}
