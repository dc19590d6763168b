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
///
/// It also keeps the header deadline (`tern serve --header-timeout-seconds`): a request head
/// must be complete within that time of the first read holding a byte of it, however steadily
/// its bytes trickle in (slowloris). ``PredictFastPath``, which sees each request's head and end,
/// calls ``headArrived()`` and ``requestEnded()`` (two stored-property writes per request); a
/// head still incomplete after a read arms the check for its deadline, which then sends
/// ``HeaderTimedOut`` inbound (``ProtocolErrorResponder`` answers 408 and closes). Heads that
/// arrive whole in one read, the common case, schedule nothing.
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
    /// Inbound user event: a request head has been arriving for longer than the header timeout.
    struct HeaderTimedOut: Sendable {}

    private let timeout: TimeAmount
    private let headerTimeout: TimeAmount
    /// Between requests: the next bytes read start a request head.
    private var awaitingHead = true
    /// When the first read of the request head now arriving happened (nil: none arriving).
    private var headStarted: NIODeadline?
    /// When the scheduled check runs.
    private var checkAt = NIODeadline.distantFuture
    private var lastActivity = NIODeadline.now()
    /// The last activity was an answer written rather than bytes read.
    private var lastWasAnswer = false
    private var check: Scheduled<Void>?

    /// - Parameters:
    ///   - timeout: the longest silence allowed (at least 1 ms).
    ///   - headerTimeout: the longest a request head may take to arrive (at least 1 ms).
    init(timeout: TimeAmount, headerTimeout: TimeAmount = .seconds(30)) {
        self.timeout = max(timeout, .milliseconds(1))
        self.headerTimeout = max(headerTimeout, .milliseconds(1))
    }

    /// A request head was decoded: its deadline no longer applies (called by ``PredictFastPath``).
    func headArrived() {
        awaitingHead = false
        headStarted = nil
    }

    /// A request was decoded to its end: the next bytes start another head.
    func requestEnded() {
        awaitingHead = true
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastActivity = context.eventLoop.now  // the loop's clock (virtual on an EmbeddedEventLoop)
        if context.channel.isActive { schedule(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = context.eventLoop.now
        schedule(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = context.eventLoop.now
        lastWasAnswer = false
        if awaitingHead, headStarted == nil { headStarted = lastActivity }
        context.fireChannelRead(data)
        // A head still incomplete after this read: make sure its deadline is checked in time.
        if let headStarted, headStarted + headerTimeout < checkAt, context.channel.isActive {
            check?.cancel()
            check = nil
            schedule(context)
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is Active else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        lastActivity = context.eventLoop.now
        lastWasAnswer = true
        promise?.succeed(())
    }

    /// Arms the check for when the silence since `lastActivity` reaches the timeout, or the
    /// head now arriving reaches its deadline, whichever is first.
    private func schedule(_ context: ChannelHandlerContext) {
        guard check == nil else { return }
        checkAt = min(lastActivity + timeout, headStarted.map { $0 + headerTimeout } ?? .distantFuture)
        check = context.eventLoop.assumeIsolated().scheduleTask(deadline: checkAt) {
            self.check = nil
            self.checkAt = .distantFuture
            self.due(context)
        }
    }

    private func due(_ context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if let headStarted, context.eventLoop.now >= headStarted + headerTimeout {
            self.headStarted = nil  // told once; the receiver ends the connection
            context.fireUserInboundEventTriggered(HeaderTimedOut())
            guard context.channel.isActive else { return }
        }
        if context.eventLoop.now >= lastActivity + timeout {
            lastActivity = context.eventLoop.now  // if the connection stays open, its silence counts from here
            context.fireUserInboundEventTriggered(Expired(afterAnswer: lastWasAnswer))
        }
        if context.channel.isActive { schedule(context) }
    }
}

@available(*, unavailable)
extension ClientIdleTimeout: Sendable {}
