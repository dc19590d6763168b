import NIOCore
import NIOHTTPTypes

/// Answers what the gateway refuses at the connection level, in Tern's JSON error shape, and
/// ends the connection with a ``LingeringClose``: a request head NIO's decoder refuses (431 over
/// the header limits, 400 for a bad method or garbage, 505 for HTTP/2 prior knowledge; see
/// ``ConnectionRefusal/answer(to:limits:)``), a head slower than the header timeout (408, told by
/// ``ClientIdleTimeout/HeaderTimedOut``), a connection over the connection limit (503, decided
/// when the connection becomes active).
///
/// Without it Hummingbird answers a parse error `400` with an empty body, and a client that is
/// still sending (a 200 KB header) often gets a TCP reset instead (NIO's decoder stops reading).
///
/// It sits right after ``PredictFastPath``, so errors and events reach it in order behind the
/// fast path's requests; it counts the requests it passes on to Hummingbird that are not yet
/// answered, and writes its answer only once they are (HTTP/1.1 answers stay in order). An error
/// in the middle of a request (a bad chunk size in its body) goes on to Hummingbird, whose
/// responder answers it. Only the connection-level path pays for it: fast-path requests do not
/// pass through it.
final class ProtocolErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ConnectionLimits
    private let listener: RefusingListener
    private let dates: HTTPDateCache
    private let connections: ConnectionCounter?
    /// This connection counts against ``connections``.
    private var counted = false
    /// This connection is a refused one counted against ``ConnectionCounter/refusalLimit``.
    private var countedRefusal = false
    /// Requests passed on to Hummingbird and not yet answered to their `.end`.
    private var open = 0
    /// A request passed on whose `.end` has not arrived.
    private var reading = false
    /// The refusal waiting for Hummingbird's answers to be written.
    private var pending: GatewayAnswer?
    /// A refusal was decided: nothing more is passed on.
    private var refusing = false

    /// - Parameters:
    ///   - limits: the limits the messages name.
    ///   - dates: the `Date` header's cache.
    ///   - connections: the gateway's open-connection count, when it has a limit.
    ///   - listener: the listener the messages name (default the gateway).
    init(limits: ConnectionLimits, dates: HTTPDateCache, connections: ConnectionCounter?, listener: RefusingListener = .gateway) {
        self.limits = limits
        self.listener = listener
        self.dates = dates
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    /// Counts the connection, or refuses it when the limit is reached.
    private func admit(_ context: ChannelHandlerContext) {
        guard let connections, !counted, !refusing else { return }
        if connections.admit() {
            counted = true
        } else if connections.admitRefusal() {
            countedRefusal = true
            refuse(ConnectionRefusal.tooManyConnections(limit: connections.limit), context: context)
        } else {
            refusing = true
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            connections?.release()
        }
        if countedRefusal {
            countedRefusal = false
            connections?.releaseRefusal()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        switch unwrapInboundIn(data) {
        case .head:
            open += 1
            reading = true
        case .end:
            reading = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !refusing else { return }  // e.g. the decoder's "data received in error state"
        if !reading, let answer = ConnectionRefusal.answer(to: error, limits: limits, listener: listener) {
            refuse(answer, context: context)
        } else {
            context.fireErrorCaught(error)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ClientIdleTimeout.HeaderTimedOut {
            if !refusing, !reading { refuse(ConnectionRefusal.headerTimeout(limits.headerTimeout), context: context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        open = max(0, open - 1)
        if open == 0, let answer = pending {
            pending = nil
            LingeringClose.start(on: context, answer: answer.http1Bytes(date: dates.current))
        }
    }

    /// Stops passing anything on and answers `answer` once Hummingbird's answers are written.
    private func refuse(_ answer: GatewayAnswer, context: ChannelHandlerContext) {
        refusing = true
        if open == 0 {
            LingeringClose.start(on: context, answer: answer.http1Bytes(date: dates.current))
        } else {
            pending = answer
        }
    }
}

@available(*, unavailable)
extension ProtocolErrorResponder: Sendable {}

extension ConnectionRefusal {
    /// The channel handlers, new for each connection, that give another Hummingbird HTTP/1
    /// server of `tern serve` (the control plane) the gateway's answers to request heads NIO's
    /// decoder refuses: 431 `headers_too_large`, 400 `bad_request`, 505, in Tern's JSON error
    /// shape with a lingering close, instead of Hummingbird's empty 400. No connection limit and
    /// no header deadline (the control plane's idle timeout bounds a trickling head).
    /// - Parameters:
    ///   - maxHeaderBytes: the decoder's limit, named in the 431's message.
    ///   - maxHeaderCount: the decoder's field limit, named in the 431's message.
    ///   - listener: the listener the messages name.
    public static func channelHandlers(
        maxHeaderBytes: Int, maxHeaderCount: Int, listener: RefusingListener
    ) -> @Sendable () -> [any RemovableChannelHandler] {
        let limits = ConnectionLimits(maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount)
        let dates = HTTPDateCache()
        return { [ProtocolErrorResponder(limits: limits, dates: dates, connections: nil, listener: listener)] }
    }
}
