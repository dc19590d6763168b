import DequeModule
import Foundation
import NIOCore
import NIOPosix
import TernCore

/// Why a replica connection failed.
struct ReplicaConnectionError: Error, CustomStringConvertible {
    var description: String
    /// The replica closed the connection (its worker exited or crashed) with a request pending.
    static let closed = Self(description: "the replica closed the connection (its worker process exited)")
    /// The replica answered `hello` with something other than status 200.
    static func handshake(_ detail: String) -> Self { Self(description: "replica handshake failed: \(detail)") }
}

/// Matches response frames to requests: the runtime answers the requests of one connection in
/// the order they were sent, so a FIFO of promises suffices (at most
/// ``ReplicaConnection/pipelineDepth`` are outstanding).
final class ReplicaResponseHandler: ChannelDuplexHandler {
    typealias InboundIn = ReplicaFrame
    typealias OutboundIn = (ReplicaFrame, EventLoopPromise<ReplicaFrame>)
    typealias OutboundOut = ReplicaFrame

    private var pending = Deque<EventLoopPromise<ReplicaFrame>>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (frame, responsePromise) = unwrapOutboundIn(data)
        pending.append(responsePromise)
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        pending.popFirst()?.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failPending(ReplicaConnectionError.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failPending(error)
        context.close(promise: nil)
    }

    private func failPending(_ error: any Error) {
        let promises = pending
        pending.removeAll()
        for promise in promises { promise.fail(error) }
    }
}

@available(*, unavailable)
extension ReplicaResponseHandler: Sendable {}

/// One connection to a replica worker's Unix socket, served by one runtime thread.
///
/// The gateway keeps up to ``pipelineDepth`` requests outstanding on it: while the runtime
/// runs one prediction, the next request already waits in the socket, so the worker reads it
/// without sleeping (the runtime answers a connection's requests one after another, in order).
///
/// Public only so that bench/micro can build ``ReplicaSlots`` over connections to an
/// `EmbeddedChannel`; see ReplicaFrame.swift.
public final class ReplicaConnection: Sendable {
    /// Requests outstanding per connection: one running, one waiting in the socket.
    static let pipelineDepth = 2

    let channel: any Channel
    /// Which parameters the predictor declares (from `hello`): lets the gateway skip headers/query.
    let acceptsHeaders: Bool
    let acceptsQuery: Bool
    /// Identity of the event loop serving ``channel``: ``ReplicaSlots/take(near:)`` prefers a
    /// connection on the caller's loop, so the request and its response stay on one thread.
    let eventLoopID: ObjectIdentifier

    /// Wraps a channel that already did the `hello` exchange; ``connect(to:group:)``
    /// is how the gateway makes one. `accepts` is what the predictor declared in `hello`.
    public init(channel: any Channel, accepts: [String]) {
        self.channel = channel
        self.acceptsHeaders = accepts.contains("headers")
        self.acceptsQuery = accepts.contains("query_params")
        self.eventLoopID = ObjectIdentifier(channel.eventLoop)
    }

    /// Connects to the Unix socket at `socketPath` and exchanges `hello`
    /// (``connect(to:group:)`` with ``ReplicaAddress/unix(path:)``).
    static func connect(socketPath: String, group: any EventLoopGroup) async throws -> ReplicaConnection {
        try await connect(to: .unix(path: socketPath), group: group)
    }

    /// Connects to a worker at `address` (a Unix socket, or TCP with NIO's default
    /// `TCP_NODELAY`) and exchanges `hello`.
    /// - Throws: a connection error, or ``ReplicaConnectionError`` when the handshake fails.
    static func connect(to address: ReplicaAddress, group: any EventLoopGroup) async throws -> ReplicaConnection {
        let bootstrap = ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(ReplicaFrameDecoder()),
                        ReplicaFrameEncoder(),
                        ReplicaResponseHandler(),
                    ])
                }
            }
        let channel: any Channel
        switch address {
        case .unix(let path): channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
        case .tcp(let host, let port): channel = try await bootstrap.connect(host: host, port: port).get()
        }
        do {
            let reply = try await roundTrip(
                channel: channel,
                ReplicaFrame(header: ReplicaProtocol.helloHeader, body: ByteBuffer())
            )
            let header = try ReplicaResponseHeader(parsing: reply.header)
            guard header.status == 200 else {
                throw ReplicaConnectionError.handshake(header.error?.message ?? "status \(header.status)")
            }
            return ReplicaConnection(channel: channel, accepts: header.accepts ?? ReplicaProtocol.defaultAccepts)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Sends one request frame and waits for its response.
    /// - Throws: ``ReplicaConnectionError/closed`` when the worker goes away first.
    func send(_ frame: ReplicaFrame) async throws -> ReplicaFrame {
        try await Self.roundTrip(channel: channel, frame)
    }

    /// Sends one request frame; `promise` gets its response (or ``ReplicaConnectionError/closed``
    /// when the worker goes away first). The fast path makes `promise` on its own event loop, so
    /// the response is handled on the HTTP connection's thread.
    func send(_ frame: ReplicaFrame, promise: EventLoopPromise<ReplicaFrame>) {
        channel.writeAndFlush((frame, promise)).cascadeFailure(to: promise)
    }

    /// Sends a `health` frame; true when the worker answered 200.
    func checkHealth() async -> Bool {
        guard let reply = try? await send(
            ReplicaFrame(header: ReplicaProtocol.healthHeader, body: ByteBuffer())
        ) else { return false }
        let header = try? ReplicaResponseHeader(parsing: reply.header)
        return header?.status == 200
    }

    /// True while the socket is open.
    var isActive: Bool { channel.isActive }

    /// Closes the connection.
    func close() async {
        try? await channel.close()
    }

    private static func roundTrip(channel: any Channel, _ frame: ReplicaFrame) async throws -> ReplicaFrame {
        let promise = channel.eventLoop.makePromise(of: ReplicaFrame.self)
        channel.writeAndFlush((frame, promise)).cascadeFailure(to: promise)
        return try await promise.futureResult.get()
    }
}
