import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing
import TernCore

@testable import TernGateway

/// A fast-path request whose answer comes back before the exchange's start returns — its replica
/// connection was already closed (the worker was SIGKILLed and the gateway has not dropped it
/// yet), so the write fails at once on the same event loop and the 502 is delivered inside
/// `startWithoutTask` — must leave the client connection serving. Found by the replica-SIGKILL
/// fault test (FaultInjectionTests): the connection then held every later request forever, so a
/// client's next request on it never got an answer.
///
/// In-process: the HTTP connection and the replica connection are `EmbeddedChannel`s on one
/// `EmbeddedEventLoop`, which gives the one-loop arrangement `tern serve` uses by default
/// (`--event-loops auto`) deterministically.
@Suite(.timeLimit(.minutes(1))) struct FastPathSynchronousAnswerTests {
    /// Fails every write at once, on the caller's stack.
    private final class FailingWrites: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    private func request(_ body: String) -> [HTTPRequestPart] {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.utf8.count)
        return [
            .head(HTTPRequest(method: .post, scheme: nil, authority: "localhost", path: "/echo", headerFields: fields)),
            .body(ByteBuffer(string: body)), .end(nil),
        ]
    }

    /// The statuses of the response heads written so far.
    private func answeredStatuses(_ channel: EmbeddedChannel) throws -> [Int] {
        var statuses: [Int] = []
        while let part = try channel.readOutbound(as: HTTPResponsePart.self) {
            if case .head(let head) = part { statuses.append(head.status.code) }
        }
        return statuses
    }

    @Test func anAnswerDeliveredInsideTheStartLeavesTheConnectionServing() async throws {
        let gateway = Gateway(configuration: GatewayConfiguration(), logger: Logger(label: "test"))
        let spec = APISpec(
            name: "echo", predictor: PredictorSpec(type: .python, path: "predictor.py"),
            networking: NetworkingSpec(endpoint: "/echo"))
        await gateway.setRoute(spec)
        let router = try #require(gateway.router(forPath: "/echo"))
        try runOnOneLoop(router: router, gateway: gateway)
    }

    /// The synchronous part: every channel on one loop, created and used on this thread.
    private func runOnOneLoop(router: APIRouter, gateway: Gateway) throws {
        let loop = EmbeddedEventLoop()
        // The worker is gone and the gateway does not know yet: a write fails at once, as a
        // socket write does once the peer's end is closed (EPIPE, or NIO's ioOnClosedChannel).
        let replicas = (0..<2).map { _ in
            EmbeddedChannel(handlers: [FailingWrites(), ReplicaFrameEncoder(), ReplicaResponseHandler()], loop: loop)
        }
        router.attach(replicaID: "r", connections: replicas.map { ReplicaConnection(channel: $0, accepts: ["payload"]) })
        let client = EmbeddedChannel(handler: PredictFastPath(gateway: gateway, dates: HTTPDateCache()), loop: loop)
        defer { _ = try? client.finish() }
        // Active, as an accepted connection is; no `wait()` (nothing here may block a thread).
        client.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 8888), promise: nil)
        loop.run()

        for part in request(#"{"n": 1}"#) { try client.writeInbound(part) }
        loop.run()
        let first = try answeredStatuses(client)
        let passedOn = try client.readInbound(as: HTTPRequestPart.self)
        #expect(first == [502], "answered \(first); passed to Hummingbird: \(String(describing: passedOn))")
        // The next request of the same connection is taken and answered too (the other broken
        // connection: 502 again), not held behind an exchange that already ended.
        for part in request(#"{"n": 2}"#) { try client.writeInbound(part) }
        loop.run()
        #expect(try answeredStatuses(client) == [502])
    }
}
