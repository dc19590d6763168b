import DequeModule
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Makes each request's `Connection` header say what RFC 9112 §9.3 says the connection does,
/// where the request's HTTP version is still known (before `HTTP1ToHTTPServerCodec`, which
/// drops it), and makes answers say it too.
///
/// Hummingbird and ``PredictFastPath`` see only `HTTPTypes` requests without a version, and close
/// a connection after a request only when its `Connection` header is exactly `close`. So:
/// - a request that does not persist the connection — a `close` token in any case or list
///   (`Close`, `close, TE`, also next to `keep-alive`), HTTP/1.0 without `keep-alive`, or HTTP/1.0
///   with `Transfer-Encoding` (framing that RFC 9112 §6.1 says to treat as faulty) — gets exactly
///   `Connection: close`: it is answered, with `Connection: close`, and then the connection is
///   closed (an HTTP/1.0 client such as `ab` without `-k` reads until the server closes);
/// - an HTTP/1.0 request that asks for `keep-alive` gets `Connection: keep-alive` on its answer
///   (an HTTP/1.0 client keeps the connection only when the answer says so);
/// - an HTTP/1.0 request's `Expect` is dropped: a server must ignore `100-continue` from HTTP/1.0
///   and never send it a 1xx answer (RFC 9110 §10.1.1);
/// - any answer that says `Connection: close` (the 413 for a body over the limit, say) ends the
///   connection once written, whatever was pipelined behind it (RFC 9112 §9.6).
///
/// Sits in every gateway connection's pipeline right before `HTTP1ToHTTPServerCodec` (installed by
/// ``GatewayPipeline``).
final class ConnectionPersistence: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What a request's answer must say about the connection.
    private enum Persistence {
        case keepAlive
        /// An HTTP/1.0 request asked for `keep-alive`: the answer confirms it.
        case confirmKeepAlive
        case close
    }

    /// Per request not yet answered, oldest first.
    private var pending = Deque<Persistence>()
    /// The answer being written says `Connection: close`: close once its end is written.
    private var closeAfterAnswer = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let http10 = head.version.major == 1 && head.version.minor == 0
        let tokens = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        let persistence: Persistence
        if tokens.contains("close") || (http10 && (!tokens.contains("keep-alive") || head.headers.contains(name: "transfer-encoding"))) {
            persistence = .close
        } else {
            persistence = http10 ? .confirmKeepAlive : .keepAlive
        }
        pending.append(persistence)
        guard persistence == .close || http10 else {
            context.fireChannelRead(data)
            return
        }
        if persistence == .close { head.headers.replaceOrAdd(name: "connection", value: "close") }
        if http10 { head.headers.remove(name: "expect") }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:  // not an interim answer (100 Continue)
            switch pending.popFirst() {
            case .close?:
                if !head.headers.contains(name: "connection") { head.headers.add(name: "connection", value: "close") }
            case .confirmKeepAlive?:
                if !head.headers.contains(name: "connection") { head.headers.add(name: "connection", value: "keep-alive") }
            case .keepAlive?, nil:
                break
            }
            closeAfterAnswer = head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where closeAfterAnswer:
            closeAfterAnswer = false
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            context.writeAndFlush(data, promise: written)
        default:
            context.write(data, promise: promise)
        }
    }
}

@available(*, unavailable)
extension ConnectionPersistence: Sendable {}
