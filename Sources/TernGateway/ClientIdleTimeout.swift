import NIOCore

/// Tells when a client connection has been silent for the gateway's idle timeout
/// (`tern serve --idle-timeout-seconds`): no byte read from the client and no answer finished for
/// that long. First in each connection's pipeline, so every byte counts — also the bytes of a
/// request head that trickles in (a head sent a byte at a time is not cut while its bytes keep
/// coming; one that stops is).
///
/// It decides nothing about HTTP: when the time is up it sends ``Expired`` inbound, and
/// ``PredictFastPath``, which knows whether the client waits for an answer or an answer is still
/// being written, closes the connection or lets it be (the silence then counts again from that
/// moment). ``PredictFastPath`` sends ``Active`` outbound when it writes the end of an answer, so
/// the silence after an answer counts from the answer (nginx's `keepalive_timeout`), not from the
/// request.
final class ClientIdleTimeout: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Inbound user event: the connection has been silent for the timeout.
    struct Expired: Sendable {
        /// The last thing that happened was an answer written (not bytes read): the client may
        /// still be reading it.
        var afterAnswer: Bool
    }
    /// Outbound user event: the connection was active now (an answer was written).
    struct Active: Sendable {}

    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    /// The last activity was an answer written rather than bytes read.
    private var lastWasAnswer = false
    private var check: Scheduled<Void>?

    /// - Parameter timeout: the longest silence allowed (at least 1 ms).
    init(timeout: TimeAmount) {
        self.timeout = max(timeout, .milliseconds(1))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = .now()
        schedule(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        lastWasAnswer = false
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is Active else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        lastActivity = .now()
        lastWasAnswer = true
        promise?.succeed(())
    }

    /// Arms the check for when the silence since `lastActivity` reaches the timeout.
    private func schedule(_ context: ChannelHandlerContext) {
        guard check == nil else { return }
        check = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + timeout) {
            self.check = nil
            self.due(context)
        }
    }

    private func due(_ context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if NIODeadline.now() >= lastActivity + timeout {
            lastActivity = .now()  // if the connection stays open, its silence counts from here
            context.fireUserInboundEventTriggered(Expired(afterAnswer: lastWasAnswer))
        }
        if context.channel.isActive { schedule(context) }
    }
}

@available(*, unavailable)
extension ClientIdleTimeout: Sendable {}
