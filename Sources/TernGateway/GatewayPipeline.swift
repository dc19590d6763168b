import NIOCore
import NIOHTTPTypesHTTP1

/// Completes each gateway connection's pipeline with the handlers that must sit outside the
/// places Hummingbird lets an application add handlers to (after its HTTP/1 codec): listed first
/// among Hummingbird's additional channel handlers, it puts ``ClientIdleTimeout`` at the front of
/// the pipeline (where it sees every byte) and ``ConnectionPersistence`` right before
/// `HTTP1ToHTTPServerCodec` (where the request's HTTP version is known), then removes itself.
final class GatewayPipeline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let idleTimeout: ClientIdleTimeout

    /// - Parameter idleTimeout: the connection's ``ClientIdleTimeout`` (also given to its
    ///   ``PredictFastPath``).
    init(idleTimeout: ClientIdleTimeout) {
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        try? pipeline.addHandler(idleTimeout, position: .first)
        if let codec = try? pipeline.context(handlerType: HTTP1ToHTTPServerCodec.self) {
            try? pipeline.addHandler(ConnectionPersistence(), position: .before(codec.handler))
        }
        pipeline.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension GatewayPipeline: Sendable {}
