import ShimProtocol
import SwiftProtobuf

/// Maps (service, method) to handlers and decodes their requests. Handlers
/// are typed; the router alone deals in bytes. Several ttrpc services can be
/// served on the same connection and socket: each registers its handlers
/// under its own catalogue (ShimService by default).
public final class RPCRouter {
    typealias Handler = (ServerCall, [UInt8]) -> Void

    private struct Route {
        let kind: MethodKind
        let handler: Handler
    }

    private var services: [String: (catalog: ServiceCatalog, routes: [String: Route])] = [:]

    public init() {}

    /// The methods of `service` with a handler, in its catalogue's order
    /// (Hello reports them).
    public func implementedMethods(of service: ServiceCatalog = ShimService.catalog) -> [String] {
        let routes = services[service.name]?.routes ?? [:]
        return service.methods.map(\.name).filter { routes[$0] != nil }
    }

    func kind(service: String, method: String) -> MethodKind? { services[service]?.routes[method]?.kind }

    /// A unary handler answers through `reply` exactly once, now or later.
    public func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, of service: ServiceCatalog = ShimService.catalog, _ body: @escaping (Request, Reply<Response>) -> Void
    ) {
        register(method, service, .unary, Request.self) { call, request in body(request, Reply(call: call)) }
    }

    /// A server-stream handler sends messages and ends with finish or fail.
    public func serverStream<Request: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ method: String, of service: ServiceCatalog = ShimService.catalog, _ body: @escaping (Request, Outbound<Output>) -> Void
    ) {
        register(method, service, .serverStream, Request.self) { call, request in body(request, Outbound(call: call)) }
    }

    /// A bidirectional handler gets the first message and the call, whose
    /// onData brings the following ones.
    public func bidirectional<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ method: String, of service: ServiceCatalog = ShimService.catalog, _ body: @escaping (Input, Outbound<Output>) -> Void
    ) {
        register(method, service, .bidirectional, Input.self) { call, first in body(first, Outbound(call: call)) }
    }

    private func register<Request: SwiftProtobuf.Message>(
        _ method: String, _ service: ServiceCatalog, _ kind: MethodKind, _ type: Request.Type,
        _ body: @escaping (ServerCall, Request) -> Void
    ) {
        precondition(service.method(named: method)?.kind == kind, "\(method) is not a \(kind) rpc of \(service.name)")
        var entry = services[service.name] ?? (service, [:])
        entry.routes[method] = Route(kind: kind) { call, payload in
            let request: Request
            do {
                request = try Request(serializedBytes: payload)
            } catch {
                call.fail(RPCError(.invalidArgument, "unmarshal request error: \(method): payload is not a valid \(Request.protoMessageName) (\(error))"))
                return
            }
            body(call, request)
        }
        services[service.name] = entry
    }

    /// Routes a decoded ttrpc Request; answers errors itself.
    func dispatch(_ request: RequestEnvelope, call: ServerCall) {
        guard let service = services[request.service] else {
            let served = services.keys.sorted().joined(separator: ", ")
            return call.fail(RPCError(.unimplemented, "service \(request.service) (this shim serves \(served))"))
        }
        // UNIMPLEMENTED is ttrpc's answer to an unknown method; every method
        // of a served catalogue has a route (EveryMethodServedTests).
        guard let route = service.routes[request.method] else {
            return call.fail(RPCError(.unimplemented, "method \(request.method)"))
        }
        route.handler(call, request.payload)
    }
}

/// The typed answer of a unary call.
public struct Reply<Response: SwiftProtobuf.Message> {
    /// The call (a handler that waits sets `onCancel` on it).
    public let call: ServerCall

    public func callAsFunction(_ result: Result<Response, RPCError>) {
        switch result {
        case .success(let response): ok(response)
        case .failure(let error): fail(error)
        }
    }

    public func ok(_ response: Response) {
        do {
            call.reply(try response.serializedBytes())
        } catch {
            call.fail(RPCError(.internal, "cannot encode \(Response.protoMessageName): \(error)"))
        }
    }

    public func fail(_ error: RPCError) { call.fail(error) }

    public var isFinished: Bool { call.isFinished }
}

/// The typed sending side of a streaming call.
public struct Outbound<Output: SwiftProtobuf.Message> {
    public let call: ServerCall

    public func send(_ message: Output) {
        guard let bytes: [UInt8] = try? message.serializedBytes() else { return }
        call.send(bytes)
    }

    public func finish() { call.finish() }
    public func fail(_ error: RPCError) { call.fail(error) }
}
