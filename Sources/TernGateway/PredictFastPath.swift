import DequeModule
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The gateway's synchronous path for the common prediction, in each HTTP connection's channel
/// pipeline (after HTTP/1 parsing, before Hummingbird's request handling).
///
/// A `POST` to the endpoint of an API without a `request_timeout`, with a `Content-Length` body
/// of at most ``maxBody`` bytes, is answered here when the API has a free slot or room in its
/// queue (the same admission and the same queue as the normal path): the body is collected and
/// the request is a ``ReplicaExchange`` started with ``ReplicaExchange/startWithoutTask(near:)``,
/// so the `predict` frame is written to the replica connection and the response is written from
/// the replica's answer, all in NIO callbacks on the connection's event loop, with no Swift task,
/// async stream or actor hop per request. With server-side batching the request joins the open
/// batch instead and is answered from its item of the batch's reply.
/// Everything else — other methods and paths, timeouts, chunked or large
/// bodies, `Expect`, `Connection: close`, and any request admission refuses or that must wake
/// the API from zero — goes to Hummingbird and ``GatewayResponder`` unchanged, whose exchange
/// is the same ``ReplicaExchange`` (with full admission), so both paths answer alike.
///
/// HTTP/1.1 keeps answers in request order. The fast path takes a request only when no earlier
/// request of the connection is still with Hummingbird; while it waits for the replica, parts of
/// later requests (a pipelining client) are held, the connection's reads paused once something is
/// held, and the parts replayed in order. Inbound events and errors that arrive behind a fast-path request — the
/// client's half-close (`ChannelEvent.inputClosed`), a graceful-shutdown quiesce, an HTTP parse
/// error in bytes after the request — are held in the same order and delivered once it is
/// answered, so Hummingbird, which reacts to them by closing the connection, never closes it
/// under a fast-path request (cases found by an adversarial trial: answers lost to a half-close
/// or to garbage pipelined behind a valid request).
///
/// Measured effect: optimisation log item 9 in docs/benchmarks.md.
final class PredictFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Largest request body (bytes) the fast path collects; larger ones take the normal path.
    static let maxBody = 64 << 10

    private enum State {
        /// Between requests.
        case idle
        /// A request going to Hummingbird: its parts pass through up to its `.end`.
        case forwarding
        /// Collecting the body of a fast-path candidate (`head` not yet passed on).
        case collecting(head: HTTPRequest, router: APIRouter, body: ByteBuffer)
        /// A fast-path request waits in the API's queue for a slot.
        case queued(id: UInt64, router: APIRouter)
        /// A fast-path request is with the replica.
        case exchanging
    }

    private let gateway: Gateway
    private let dates: HTTPDateCache
    private var state = State.idle
    /// Requests passed to Hummingbird whose response has not been written to its `.end`.
    private var forwardedOpen = 0
    /// Parts read while a request is with the replica, replayed in order once it is answered.
    private var held = Deque<Inbound>()
    /// A `read` asked for while a request was with the replica (reads pause meanwhile).
    private var readHeld = false
    /// Parts were passed to Hummingbird outside a read cycle: it needs a `channelReadComplete`.
    private var forwardedOutsideRead = false
    private var active = true
    /// The idle timeout closed the connection's output (see ``closeIfIdle(afterAnswer:context:)``).
    private var outputClosed = false

    /// The connection's ``ClientIdleTimeout``, told when each request head and end is decoded
    /// (its header deadline); nil in tests without one.
    private let requestClock: ClientIdleTimeout?

    init(gateway: Gateway, dates: HTTPDateCache, requestClock: ClientIdleTimeout? = nil) {
        self.gateway = gateway
        self.dates = dates
        self.requestClock = requestClock
    }

    // MARK: inbound

    /// What arrives from the client side of the pipeline, in order.
    private enum Inbound {
        case part(HTTPRequestPart)
        case event(Any)
        case error(any Error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if outputClosed {  // a request after the idle timeout closed our side: it cannot be answered
            context.close(promise: nil)
            return
        }
        let part = unwrapInboundIn(data)
        switch part {  // parts arrive here as they are decoded, also those held below
        case .head: requestClock?.headArrived()
        case .end: requestClock?.requestEnded()
        case .body: break
        }
        if fastRequestUnanswered || !held.isEmpty {
            held.append(.part(part))
            return
        }
        handle(part, context: context)
    }

    /// A fast-path request is queued or with the replica: later parts wait, reads pause.
    private var fastRequestUnanswered: Bool {
        switch state {
        case .queued, .exchanging: true
        case .idle, .forwarding, .collecting: false
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let expired = event as? ClientIdleTimeout.Expired {
            closeIfIdle(afterAnswer: expired.afterAnswer, context: context)
            return
        }
        deliver(.event(event), context: context)
    }

    /// The client has been silent for the idle timeout (``ClientIdleTimeout``). Nothing happens
    /// while a whole request of it waits for its answer, or while an answer is still in the
    /// gateway's buffers (a slow reader is taking it). A client that went silent in the middle of
    /// a request (its head or body) loses the connection. One that went silent after an answer
    /// has its connection's output closed instead: the kernel still delivers what it holds of the
    /// answer, then the FIN, however slowly the client reads (a full close would drop data still
    /// unsent, and the kernel gives up on an orphaned socket whose reader is slow); the connection
    /// ends when the client closes its side or sends anything more, or ``lingerLimit`` later.
    private func closeIfIdle(afterAnswer: Bool, context: ChannelHandlerContext) {
        let unsent = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        guard !anyRequestAwaitingAnswer, unsent == 0, context.channel.isWritable, !outputClosed else { return }
        guard afterAnswer, case .idle = state else {
            context.close(promise: nil)
            return
        }
        outputClosed = true
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: Self.lingerLimit) { channel.close(promise: nil) }
    }

    /// Longest a connection stays open after the idle timeout half-closed it (the client reading
    /// what the kernel still holds of the last answer).
    static let lingerLimit = TimeAmount.seconds(60)

    /// True while a whole request has been read and waits for its answer: a fast-path request
    /// queued or with the replica, or a request Hummingbird has read to its end and not yet
    /// answered (every forwarded one but the one still being read, if any). Reading a request or
    /// idling between requests is not awaiting.
    private var anyRequestAwaitingAnswer: Bool {
        if fastRequestUnanswered { return true }
        if case .forwarding = state { return forwardedOpen > 1 }
        return forwardedOpen > 0
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        deliver(.error(error), context: context)
    }

    /// An event or error: held behind an unanswered fast-path request (and behind parts held
    /// before it); a request still being collected goes to Hummingbird first, which then sees the
    /// event after it, as it would have without the fast path.
    private func deliver(_ item: Inbound, context: ChannelHandlerContext) {
        if case .queued = state, case .event(let event) = item, event as? ChannelEvent == .inputClosed {
            // The client ended its side while its request waits for a slot: taken as leaving, as
            // proxies do (nginx's 499). Closing gives the place in the queue up (channelInactive);
            // a request already with the replica is answered first instead.
            context.close(promise: nil)
            return
        }
        if fastRequestUnanswered || !held.isEmpty {
            held.append(item)
            return
        }
        pass(item, context: context)
    }

    /// Passes a held or arriving event or error on (after the request being collected, if any).
    private func pass(_ item: Inbound, context: ChannelHandlerContext) {
        if case .collecting(let head, _, let body) = state {
            forwardCollected(head, body: body, context: context)
        }
        if forwardedOutsideRead {  // Hummingbird takes parts in at `channelReadComplete`: before the event
            forwardedOutsideRead = false
            context.fireChannelReadComplete()
        }
        switch item {
        case .event(let event): context.fireUserInboundEventTriggered(event)
        case .error(let error): context.fireErrorCaught(error)
        case .part(let part): handle(part, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        held.removeAll()
        if case .queued(let id, let router) = state {
            router.cancelWaiting(id)  // the client went away: give its place in the queue up
        }
        context.fireChannelInactive()
    }


    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (state, part) {
        case (.idle, .head(let head)):
            if forwardedOpen == 0, let (router, length) = candidate(head) {
                state = .collecting(head: head, router: router, body: context.channel.allocator.buffer(capacity: length))
            } else {
                if forwardedOpen == 0, expectsContinue(head) {
                    // Hummingbird never answers `Expect: 100-continue`, so clients that send it
                    // (curl does above 1 MiB) waited about a second before sending the body.
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
                }
                forward(.head(head), context: context)
            }
        case (.collecting(let head, let router, var body), .body(var chunk)):
            state = .idle  // drop the state's reference so `body` is appended in place
            body.writeBuffer(&chunk)
            if body.readableBytes > Self.maxBody {  // more than declared: let Hummingbird judge it
                forwardCollected(head, body: body, context: context)
            } else {
                state = .collecting(head: head, router: router, body: body)
            }
        case (.collecting(let head, let router, let body), .end(let trailers)):
            state = .idle
            guard trailers == nil else {  // trailers: the normal path decides
                forwardCollected(head, body: body, end: trailers, context: context)
                return
            }
            let loop = context.eventLoop
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
            // Runs on whichever thread has the answer: the HTTP connection's own, or the
            // replica connection's (then one hop to this loop).
            let deliver: @Sendable (GatewayAnswer) -> Void = { answer in
                if loop.inEventLoop {
                    bound.value.handler.finish(answer, context: bound.value.context)
                } else {
                    loop.execute { bound.value.handler.finish(answer, context: bound.value.context) }
                }
            }
            let (path, query) = Self.pathAndQuery(of: head)
            let request = ReplicaRequest(kind: .predict, path: path, query: query, headers: head.headerFields, body: body)
            // Exchanging before the start, not after: the answer can come inside it (a replica
            // connection already closed fails the write at once, on this loop), and `finish`,
            // which sets `.idle` and may start the next held request, must have the last word.
            state = .exchanging
            switch ReplicaExchange(request, router: router, gateway: self.gateway, deliver: deliver)
                .startWithoutTask(near: ObjectIdentifier(loop))
            {
            case .started:
                break
            case .queued(let id):  // a waiter is called later, never inside the start
                state = .queued(id: id, router: router)
            case .needsNormalPath:  // refused, cold start or a timeout: the normal path decides
                state = .idle
                forwardCollected(head, body: body, end: .some(nil), context: context)
            }
        case (.forwarding, _), (.idle, _), (.collecting, .head), (.queued, _), (.exchanging, _):
            // Parts of a request Hummingbird handles (or out of order: Hummingbird rejects them).
            if case .collecting(let head, _, let body) = state {
                forwardCollected(head, body: body, context: context)
            }
            forward(part, context: context)
        }
    }

    /// Hands a request collected so far (its head and the body read until now) to Hummingbird
    /// after all. `end` is given (its trailers, `nil` for none) when the request is complete.
    private func forwardCollected(
        _ head: HTTPRequest, body: ByteBuffer, end: HTTPFields?? = .none, context: ChannelHandlerContext
    ) {
        forward(.head(head), context: context)
        if body.readableBytes > 0 { forward(.body(body), context: context) }
        if case .some(let trailers) = end { forward(.end(trailers), context: context) }
    }

    /// Passes `part` on to Hummingbird, counting the requests it has to answer.
    private func forward(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head:
            forwardedOpen += 1
            state = .forwarding
        case .end:
            state = .idle
        case .body:
            state = .forwarding
        }
        forwardedOutsideRead = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        forwardedOutsideRead = false
        context.fireChannelReadComplete()
    }

    /// True when `head` asks for `100 Continue` and a body the gateway will read (a declared
    /// length over `--max-body-bytes` is refused with 413 without reading it).
    private func expectsContinue(_ head: HTTPRequest) -> Bool {
        guard head.headerFields[.expect]?.lowercased() == "100-continue" else { return false }
        guard let declared = head.headerFields[.contentLength].flatMap(Int.init) else { return true }
        return declared <= gateway.configuration.maxBodyBytes
    }

    /// The API and declared body length when `head` may take the fast path; nil otherwise. The
    /// conditions mirror ``GatewayResponder/respond(to:context:)``: the path is an API's endpoint
    /// (not `/healthz`, not a TrafficSplitter's) and the method `POST`; the request carries the
    /// API's key if it needs one, within its rate limit (``APIKeyGate``, which takes the key's
    /// token here: the request is the fast path's from then on — the two hand-overs to the
    /// normal path after this, a body longer than its `Content-Length` and trailers, cannot
    /// happen with a `Content-Length` body, so a token is never taken twice); the API has no
    /// `request_timeout` (checked with the lease or the collection, whose timer is the task path's).
    private func candidate(_ head: HTTPRequest) -> (APIRouter, Int)? {
        let fields = head.headerFields
        guard head.method == .post,
              let length = fields[.contentLength].flatMap(Int.init), length >= 0,
              length <= min(Self.maxBody, gateway.configuration.maxBodyBytes),
              fields[.transferEncoding] == nil, fields[.expect] == nil,
              fields[.connection].map({ $0.lowercased() == "keep-alive" }) ?? true,
              let target = head.path, !target.contains("#")
        else { return nil }
        let path = target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
        guard path != "/healthz", gateway.split(forPath: path) == nil,
              let router = gateway.router(forPath: path),
              router.keys.check(fields) == .admitted  // else the normal path answers 401 or 429
        else { return nil }
        return (router, length)
    }

    // MARK: the answer

    /// The request target split at its `?`: the path, and the raw query if there is one.
    private static func pathAndQuery(of head: HTTPRequest) -> (path: String, query: String?) {
        let target = head.path ?? "/"
        guard let question = target.firstIndex(of: "?") else { return (target, nil) }
        return (String(target[..<question]), String(target[target.index(after: question)...]))
    }

    /// The answer of the fast-path request is here (on this connection's loop): write it and go on
    /// with what was held meanwhile.
    private func finish(_ answer: GatewayAnswer, context: ChannelHandlerContext) {
        state = .idle
        guard active else { return }
        write(answer, context: context)
        resume(context: context)
    }

    /// Writes `answer` as Hummingbird would: its fields, then `Content-Length` and `Date`.
    private func write(_ answer: GatewayAnswer, context: ChannelHandlerContext) {
        var fields = answer.headers
        fields[.contentLength] = String(answer.body.readableBytes)
        fields[.date] = dates.current
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .init(code: answer.status), headerFields: fields))), promise: nil)
        if answer.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.triggerUserOutboundEvent(ClientIdleTimeout.Active(), promise: nil)
    }

    /// After an answer: replays what was held in order (stopping if a request starts another
    /// exchange), then lets reads through.
    private func resume(context: ChannelHandlerContext) {
        while !fastRequestUnanswered, let item = held.popFirst() {
            switch item {
            case .part(let part): handle(part, context: context)
            case .event, .error: pass(item, context: context)
            }
        }
        if forwardedOutsideRead {
            forwardedOutsideRead = false
            context.fireChannelReadComplete()
        }
        if readHeld, !fastRequestUnanswered, context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    // MARK: outbound

    /// Reads pause once something is held behind a request that is with the replica (answers
    /// stay in order, and a pipelining client can make the gateway hold at most one read's worth
    /// of bytes) and while the client is not taking our writes (a client that pipelines without
    /// reading cannot make the gateway buffer answers without bound). Reads are not paused for
    /// the request itself: with nothing held, the socket stays registered for reading, which
    /// saves two `epoll_ctl` calls per request (issue 17: 8 → 6 system calls per request on the
    /// gateway at one connection).
    func read(context: ChannelHandlerContext) {
        if fastRequestUnanswered && !held.isEmpty {
            readHeld = true
        } else if !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readHeld, context.channel.isWritable, !fastRequestUnanswered {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }


    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        forwardedOpen = max(0, forwardedOpen - 1)
        context.write(data, promise: promise)
        context.triggerUserOutboundEvent(ClientIdleTimeout.Active(), promise: nil)
    }
}

@available(*, unavailable)
extension PredictFastPath: Sendable {}
