import XCTest
@testable import ShimCore

/// The container's state machine, move by move and operation by phase: the
/// tables below are the specification; the code must agree with every cell.
final class ContainerPhaseTests: XCTestCase {
    typealias Kind = ContainerPhase.Kind

    /// Every legal move, written out. Any pair not listed must be refused.
    static let legal: Set<String> = [
        "none -> creating",
        "creating -> none", "creating -> created", "creating -> running",
        "created -> starting", "created -> stopped", "created -> deleted",
        "starting -> running", "starting -> created", "starting -> stopped",
        "running -> paused", "running -> checkpointing", "running -> stopped", "running -> deleted",
        "paused -> running", "paused -> checkpointing", "paused -> stopped", "paused -> deleted",
        "checkpointing -> running", "checkpointing -> paused", "checkpointing -> stopped",
        "stopped -> deleted",
    ]

    static func phase(_ kind: Kind) -> ContainerPhase {
        switch kind {
        case .none: .none
        case .creating: .creating
        case .created: .created
        case .starting: .starting
        case .running: .running
        case .paused: .paused
        case .checkpointing: .checkpointing(CheckpointProgress(leaveRunning: false))
        case .stopped: .stopped
        case .deleted: .deleted
        }
    }

    func testEveryMoveIsLegalOrRefusedAsTheTableSays() {
        var checked = 0
        for from in Kind.allCases {
            for to in Kind.allCases where to != from {
                var phase = Self.phase(from)
                let expected = Self.legal.contains("\(from.rawValue) -> \(to.rawValue)")
                do {
                    try phase.move(to: Self.phase(to))
                    XCTAssertTrue(expected, "\(from) -> \(to) was allowed")
                    XCTAssertEqual(phase.kind, to)
                } catch {
                    XCTAssertFalse(expected, "\(from) -> \(to) was refused: \(error)")
                    XCTAssertEqual(phase.kind, from, "a refused move changed the phase")
                    XCTAssertTrue(error.message.contains("illegal container state change \(from.rawValue) -> \(to.rawValue)"), error.message)
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 72)
    }

    func testAPhaseMayUpdateItsOwnData() throws {
        var phase = ContainerPhase.checkpointing(CheckpointProgress(leaveRunning: false))
        var held = CheckpointProgress(leaveRunning: false)
        held.heldExit = 137
        try phase.move(to: .checkpointing(held))
        XCTAssertEqual(phase, .checkpointing(held))
    }

    func testDeletedIsTerminal() {
        for to in Kind.allCases where to != .deleted {
            XCTAssertFalse(ContainerPhase.isLegal(from: .deleted, to: to))
        }
    }

    /// Which operation each phase allows, written out.
    static let allowed: [ContainerOperation: Set<Kind>] = [
        .create: [.none],
        .start: [.created],
        .kill: [.created, .starting, .running, .paused, .checkpointing],
        .stop: [.created, .starting, .running, .stopped],
        .pause: [.running],
        .resume: [.paused],
        .update: [.created, .starting, .running, .paused],
        .checkpoint: [.running, .paused],
        .exec: [.running],
        .attach: [.created, .starting, .running, .paused],
        .resize: [.created, .starting, .running, .paused],
        .delete: [.created, .stopped],
        .forceDelete: [.created, .running, .paused, .stopped],
    ]

    func testEveryOperationIsAllowedOrRefusedInEveryPhase() {
        XCTAssertEqual(Set(Self.allowed.keys), Set(ContainerOperation.allCases))
        for operation in ContainerOperation.allCases {
            for kind in Kind.allCases {
                let refusal = operation.refusal(in: Self.phase(kind), id: "c1")
                if Self.allowed[operation]!.contains(kind) {
                    XCTAssertNil(refusal, "\(operation.rawValue) in \(kind)")
                } else {
                    XCTAssertEqual(refusal?.kind, .failedPrecondition, "\(operation.rawValue) in \(kind)")
                    XCTAssertTrue(refusal?.message.contains("c1") ?? false, refusal?.message ?? "")
                }
            }
        }
    }

    func testRefusalsSayWhatTheOperationNeeds() {
        XCTAssertEqual(ContainerOperation.pause.refusal(in: .stopped, id: "c1")?.message,
                       "cannot pause container c1: it is stopped (pause needs running)")
        XCTAssertEqual(ContainerOperation.kill.refusal(in: .none, id: "c1")?.message,
                       "cannot kill container c1: it has not been created (kill needs created, running or paused)")
        XCTAssertEqual(ContainerOperation.start.refusal(in: .starting, id: "c1")?.message,
                       "container c1 is already being started")
        XCTAssertEqual(ContainerOperation.delete.refusal(in: .running, id: "c1")?.message,
                       "container c1 is running: stop it first or delete with force")
        XCTAssertEqual(ContainerOperation.stop.refusal(in: .paused, id: "c1")?.message,
                       "container c1 is paused: resume it before stopping it")
    }

    func testStatusShowsThePhaseACallStartedFrom() {
        XCTAssertEqual(Self.phase(.creating).status, .none)
        XCTAssertEqual(Self.phase(.starting).status, .created)
        XCTAssertEqual(Self.phase(.checkpointing).status, .running)
    }
}
