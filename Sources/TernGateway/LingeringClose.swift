import NIOCore
import NIOHTTP1

/// Ends a client connection the gateway refuses, so the client reads the refusal instead of a
/// reset: added in front of the HTTP/1 codec, it writes the answer's bytes (if any) straight to the
/// socket, half-closes the output once they are sent (the client reads the answer, then end of
/// stream), discards every byte the client still sends, and closes the connection when the
/// client closes its side or ``linger`` after it was added, whichever comes first.
///
/// A full close with unread bytes in the socket's receive buffer sends a TCP reset, which can
/// destroy the answer before the client reads it (seen before this handler: `400` then
/// `ECONNRESET` for a 200 KB header); this is the "lingering close" of Apache and nginx
/// (`lingering_close`), bounded in time so a refused connection holds its descriptor briefly.
final class LingeringClose: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// Longest a refused connection stays open for the client to read the answer.
    static let linger = TimeAmount.seconds(2)

    private let answer: ByteBuffer?
    private var started = false
    private var timer: Scheduled<Void>?

    /// - Parameter answer: bytes to send first (an HTTP answer rendered with
    ///   ``GatewayAnswer/http1Bytes(date:)``), or nil when the answer was already written.
    init(answer: ByteBuffer?) {
        self.answer = answer
    }

    /// Adds a lingering close to the connection's pipeline (on its event loop), right before the
    /// HTTP/1 codec: below it the bytes are plain HTTP, and under TLS (`--tls-certificate`) its
    /// writes still go through the TLS handler. Without a codec (tests) it goes first.
    static func start(on context: ChannelHandlerContext, answer: ByteBuffer?) {
        let pipeline = context.pipeline.syncOperations
        let handler = LingeringClose(answer: answer)
        if let encoder = try? pipeline.handler(type: HTTPResponseEncoder.self) {
            try? pipeline.addHandler(handler, position: .before(encoder))
        } else {
            try? pipeline.addHandler(handler, position: .first)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if let answer {
            context.write(NIOAny(answer), promise: nil)
        }
        context.flush()
        // Waits for the pending writes (the answer, and any answer written before it).
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
        context.read()  // keep reading (and discarding) even if reads were paused
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Discarded: nothing the client sends now is served.
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event as? ChannelEvent == .inputClosed {
            context.close(promise: nil)
        }
        // Other events (idle timeouts, quiesce) concern a connection that is ending: not passed on.
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension LingeringClose: Sendable {}
