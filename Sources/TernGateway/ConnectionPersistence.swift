import DequeModule
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Makes each request's `Connection` header say what RFC 9112 §9.3 says the connection does,
/// where the request's HTTP version is still known (before `HTTP1ToHTTPServerCodec`, which
/// drops it).
///
/// Hummingbird and ``PredictFastPath`` see only `HTTPTypes` requests without a version, and close
/// a connection after a request only when its `Connection` header is exactly `close`. So:
/// - a request that does not persist the connection — HTTP/1.0 without `keep-alive`, or a
///   `close` token in any case or list (`Close`, `close, TE`) — gets `Connection: close`, and is
///   answered and then the connection closed (an HTTP/1.0 client such as `ab` without `-k` reads
///   until the server closes; before, it waited for its own timeout on every request);
/// - an HTTP/1.0 request that asks for `keep-alive` gets `Connection: keep-alive` on its answer
///   (an HTTP/1.0 client keeps the connection only when the answer says so).
///
/// Sits in every gateway connection's pipeline right before `HTTP1ToHTTPServerCodec`
/// (installed by ``Installer``).
final class ConnectionPersistence: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Per request not yet answered, oldest first: whether its answer must say `keep-alive`.
    private var echoKeepAlive = Deque<Bool>()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let http10 = head.version.major == 1 && head.version.minor == 0
        if !head.isKeepAlive {
            if head.headers["connection"] != ["close"] {
                head.headers.replaceOrAdd(name: "connection", value: "close")
            }
            echoKeepAlive.append(false)
            context.fireChannelRead(wrapInboundOut(.head(head)))
            return
        }
        echoKeepAlive.append(http10)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data), head.status.code >= 200 else {
            context.write(data, promise: promise)  // bodies, ends and interim answers (100 Continue)
            return
        }
        guard echoKeepAlive.popFirst() == true, !head.headers.contains(name: "connection") else {
            context.write(data, promise: promise)
            return
        }
        head.headers.add(name: "connection", value: "keep-alive")
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }

    /// One of Hummingbird's additional channel handlers (which come after its HTTP/1 codec):
    /// puts a ``ConnectionPersistence`` right before `HTTP1ToHTTPServerCodec`, then removes itself.
    final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        func handlerAdded(context: ChannelHandlerContext) {
            let pipeline = context.pipeline.syncOperations
            if let codec = try? pipeline.context(handlerType: HTTP1ToHTTPServerCodec.self) {
                try? pipeline.addHandler(ConnectionPersistence(), position: .before(codec.handler))
            }
            pipeline.removeHandler(context: context, promise: nil)
        }
    }
}

@available(*, unavailable)
extension ConnectionPersistence: Sendable {}

@available(*, unavailable)
extension ConnectionPersistence.Installer: Sendable {}
