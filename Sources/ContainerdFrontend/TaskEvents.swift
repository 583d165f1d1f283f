import ContainerdProtocol
import Glibc
import Logging
import ShimCore
import ShimProtocol
import ShimServer
import ShimSystem
import SwiftProtobuf

/// The task events containerd's runc shim publishes, from the core's.
extension TaskHandlers {
    // --- events ------------------------------------------------------------------------------

    /// The core's events as containerd's task events (topics of
    /// runtime/v2/runc/util.go GetTopic), in the order they happened.
    /// TaskCreate, TaskExecAdded and TaskDelete come from the handlers, as
    /// in containerd's runc shim; TaskCheckpointed is containerd's own.
    func coreEvent(_ event: ContainerEvent) {
        switch event.kind {
        case .created, .restored:
            guard let created else { return }
            var message = Containerd_Events_TaskCreate()
            message.containerID = containerID
            message.bundle = created.bundle
            message.rootfs = created.rootfs
            var io = Containerd_Events_TaskIO()
            io.stdin = created.stdin
            io.stdout = created.stdout
            io.stderr = created.stderr
            io.terminal = created.terminal
            message.io = io
            message.checkpoint = created.checkpoint
            message.pid = UInt32(bitPattern: event.pid)
            shim.publish(topic: "/tasks/create", message)
        case .started:
            var message = Containerd_Events_TaskStart()
            message.containerID = containerID
            message.pid = UInt32(bitPattern: event.pid)
            shim.publish(topic: "/tasks/start", message)
        case .exited, .execExited:
            var message = Containerd_Events_TaskExit()
            message.containerID = containerID
            message.pid = UInt32(bitPattern: event.pid)
            message.exitStatus = Self.exitStatus(event.exitCode)
            if event.kind == .exited {
                message.id = containerID
                message.exitedAt = Timestamps.from(nanos: core.snapshot.finishedAt)
            } else {
                message.id = event.execID
                let finishedAt = (try? core.execState(event.execID).get())?.finishedAt ?? event.timestamp
                message.exitedAt = Timestamps.from(nanos: finishedAt)
            }
            shim.publish(topic: "/tasks/exit", message)
        case .execStarted:
            var message = Containerd_Events_TaskExecStarted()
            message.containerID = containerID
            message.execID = event.execID
            message.pid = UInt32(bitPattern: event.pid)
            shim.publish(topic: "/tasks/exec-started", message)
        case .oom:
            var message = Containerd_Events_TaskOOM()
            message.containerID = containerID
            shim.publish(topic: "/tasks/oom", message)
        case .paused:
            var message = Containerd_Events_TaskPaused()
            message.containerID = containerID
            shim.publish(topic: "/tasks/paused", message)
        case .resumed:
            var message = Containerd_Events_TaskResumed()
            message.containerID = containerID
            shim.publish(topic: "/tasks/resumed", message)
        case .deleted, .checkpointed, .logError, .logResumed:
            break
        }
    }
}
