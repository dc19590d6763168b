import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TernCore

/// What one client request asks of a replica: the fields of its frame, whichever way it came
/// into the gateway (``PredictFastPath``, ``GatewayResponder``, ``OpenInferenceResponder``).
struct ReplicaRequest: Sendable {
    /// Which frame the request becomes (docs/replica-protocol.md).
    enum Kind: Sendable, Equatable {
        /// `predict` (or, for an API with server-side batching, an item of a `predict_batch`).
        case predict
        /// `v2_metadata`: a model's inputs and outputs (Open Inference Protocol).
        case openInferenceMetadata(model: String, version: String?)
        /// `v2_infer`: an inference (Open Inference Protocol).
        case openInferenceInfer(model: String, version: String?)
    }

    /// Which frame the request becomes.
    var kind: Kind
    /// The request's id (`X-Request-ID`): the client's own when usable, else the gateway's, e.g.
    /// `3f9a1c2b-17`.
    var requestID: String
    /// The request path without the query, e.g. `/iris`.
    var path: String
    /// The raw query string, if any (sent only to a predictor that declares `query_params`).
    var query: String?
    /// The request's header fields (sent only to a predictor that declares `headers`).
    var headers: HTTPFields
    /// The request body, untouched.
    var body: ByteBuffer
    /// The HTTP method, for the trace's server span name (``RequestTrace``). Default `POST`.
    var method: HTTPRequest.Method = .post

    /// A request with the client's `X-Request-ID` as its id when usable, else a new id
    /// (``RequestID/forRequest(client:)``).
    init(kind: Kind, path: String, query: String?, headers: HTTPFields, body: ByteBuffer) {
        self.kind = kind
        self.requestID = RequestID.forRequest(client: headers[.requestID])
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The frame's wire name, e.g. `predict` (for metrics labels and logs).
    var frameKind: String {
        switch kind {
        case .predict: "predict"
        case .openInferenceMetadata: "v2_metadata"
        case .openInferenceInfer: "v2_infer"
        }
    }

    /// The JSON header of the request's frame for a slot on `connection`: the query and the
    /// headers only when the predictor declares them (from `hello`); with `traceparent` (a traced
    /// request, ``RequestTrace``) a `traceparent` member too, which the runtime passes to the
    /// predictor's `headers` and answers with the predict call's start time.
    func header(for connection: ReplicaConnection, traceparent: String? = nil) -> ByteBuffer {
        guard let traceparent else { return untracedHeader(for: connection) }
        var header = untracedHeader(for: connection)
        header.moveWriterIndex(to: header.writerIndex - 1)  // the closing `}`
        header.writeJSONMember(#","traceparent":"#, traceparent)
        header.writeStaticString("}")
        return header
    }

    /// The JSON header of the request's frame without trace context.
    private func untracedHeader(for connection: ReplicaConnection) -> ByteBuffer {
        switch kind {
        case .predict:
            return ReplicaFrame.predictHeader(
                requestID: requestID, path: path, query: query, contentType: headers[.contentType], headers: headers,
                acceptsQuery: connection.acceptsQuery, acceptsHeaders: connection.acceptsHeaders)
        case .openInferenceMetadata(let model, let version), .openInferenceInfer(let model, let version):
            return ReplicaProtocol.openInferenceHeader(
                kind: frameKind, requestID: requestID, path: path, model: model, version: version,
                contentType: headers[.contentType], inferenceHeaderLength: headers[.inferenceHeaderLength],
                headers: connection.acceptsHeaders ? headers : nil)
        }
    }

    /// The request as an item of a `predict_batch` frame.
    var batchItem: BatchRequest {
        BatchRequest(
            requestID: requestID, path: path, contentType: headers[.contentType], query: query, headers: headers,
            body: body)
    }

    /// How errors are rendered for this request: Tern's shape, or the Open Inference Protocol's.
    var errorShape: GatewayAnswer.ErrorShape {
        kind == .predict ? .tern : .openInference
    }

    /// A replica's response frame as the client's answer: its status, content type and body
    /// with `X-Request-ID` (and `Inference-Header-Content-Length` for a v2 answer that has one);
    /// a replica error in the request's error shape; 502 `bad_replica_response` for an unreadable
    /// header (`header` is the reply's header as parsed, nil when it could not be).
    func answer(for reply: ReplicaFrame, header: ReplicaResponseHeader?, api: String) -> GatewayAnswer {
        guard let header else {
            return .error(
                status: 502, kind: .badReplicaResponse, message: "the replica sent an unreadable response header",
                api: api, shape: errorShape)
        }
        if let problem = ReplicaProtocol.statusProblem(header.status, isError: header.error != nil) {
            return .error(
                status: 502, kind: .badReplicaResponse, message: problem, api: api,
                headers: [.requestID: requestID], shape: errorShape)
        }
        if let failure = header.error {
            return .error(
                status: header.status, kind: ErrorKind(rawValue: failure.kind), message: failure.message, api: api,
                headers: [.requestID: requestID], shape: errorShape)
        }
        var fields: HTTPFields = [
            .contentType: header.contentType ?? (kind == .predict ? "application/octet-stream" : "application/json"),
            .requestID: requestID,
        ]
        if let length = header.inferenceHeaderLength { fields[.inferenceHeaderLength] = String(length) }
        if let pairs = header.headers { Self.append(pairs, to: &fields) }
        return GatewayAnswer(status: header.status, headers: fields, body: reply.body)
    }

    /// Header fields the gateway writes itself; a predictor's response object cannot set them.
    static let gatewayOwnedFields: Set<HTTPField.Name> = [
        .contentLength, .contentType, .transferEncoding, .connection, .upgrade, .te, .trailer, .date,
        .requestID, HTTPField.Name("Keep-Alive")!,
    ]

    /// Appends a response object's `[name, value]` pairs (see ``ReplicaResponseHeader/headers``)
    /// in order, skipping pairs that are not two strings, names or values HTTP does not allow,
    /// and ``gatewayOwnedFields``.
    static func append(_ pairs: [[String]], to fields: inout HTTPFields) {
        for pair in pairs where pair.count == 2 {
            guard let name = HTTPField.Name(pair[0]), !gatewayOwnedFields.contains(name),
                HTTPField.isValidValue(pair[1])
            else { continue }
            fields.append(HTTPField(name: name, value: pair[1]))
        }
    }

    /// The 504 for a request whose `request_timeout` passed (`inBatch`: while it waited for or
    /// ran in a batch).
    func timeoutAnswer(api: String, inBatch: Bool) -> GatewayAnswer {
        let message =
            inBatch
            ? "the request took longer than API \(api)'s networking.request_timeout, waiting for or running in a batch (request \(requestID))"
            : "the request took longer than API \(api)'s networking.request_timeout (request \(requestID)); the \(kind == .predict ? "prediction" : "inference") still runs to completion on the replica"
        return .error(
            status: 504, kind: .timeout, message: message, api: api, headers: [.requestID: requestID],
            shape: errorShape)
    }
}

/// What the gateway reports of every answered exchange: the hook where per-request metrics and
/// tracing attach (``GatewayConfiguration/observers``). Called once per request that reached
/// admission, on the thread that has the answer, before the answer is written; it must not block.
public protocol ExchangeObserver: Sendable {
    /// One request's answer is ready.
    func exchangeAnswered(_ record: ExchangeRecord)
    /// A `predict_batch` frame of `size` requests (at least 1) went to a replica of `api`
    /// (server-side batching). Default: nothing.
    func batchSent(api: String, size: Int)
}

extension ExchangeObserver {
    /// Ignores batches.
    public func batchSent(api: String, size: Int) {}
}

/// One answered exchange, as ``ExchangeObserver`` sees it.
public struct ExchangeRecord: Sendable {
    /// The API that served it.
    public var api: String
    /// The frame kind: `predict`, `v2_metadata` or `v2_infer`.
    public var kind: String
    /// `X-Request-ID`.
    public var requestID: String
    /// The HTTP status of the answer (503 for a rejection, 504 for a timeout, 502 for a broken
    /// replica connection, else the replica's).
    public var status: Int
    /// From admission to the answer (`ContinuousClock`, monotonic).
    public var duration: Duration
    /// From admission to the slot; nil when the request never got one, or joined a batch.
    public var queued: Duration?
    /// For an API with `monitoring`, a successful (2xx) `predict` answer's body and the API's
    /// `monitoring`; nil otherwise (other APIs pay nothing for prediction monitoring).
    public var prediction: PredictionAnswer?

    /// Memberwise initialiser (the gateway makes records; benchmarks and other observers' tests
    /// too).
    public init(
        api: String, kind: String, requestID: String, status: Int, duration: Duration, queued: Duration?,
        prediction: PredictionAnswer? = nil
    ) {
        self.api = api
        self.kind = kind
        self.requestID = requestID
        self.status = status
        self.duration = duration
        self.queued = queued
        self.prediction = prediction
    }

    /// From the slot to the answer: the frame's trip to the replica, its prediction and the way
    /// back (``duration`` − ``queued``); nil when ``queued`` is.
    public var replica: Duration? { queued.map { duration - $0 } }
}

/// A successful prediction's answer, for prediction monitoring (``ExchangeRecord/prediction``).
public struct PredictionAnswer: Sendable {
    /// The API's `monitoring`.
    public var monitoring: MonitoringSpec
    /// The answer's body as the replica sent it (not copied).
    public var body: ByteBuffer
    /// Memberwise initialiser.
    public init(monitoring: MonitoringSpec, body: ByteBuffer) {
        self.monitoring = monitoring
        self.body = body
    }
}

/// One request's trip through its API's router to a replica and back — admit, frame, send,
/// release, answer — for every frame kind and both ways into the gateway. The one request path:
///
/// - ``startWithoutTask(near:)`` is the callback core the NIO fast path (``PredictFastPath``)
///   calls on its event loop: admission without a task or a timer (a free slot, a place in the
///   queue, or a place in the open batch), or ``Start/needsNormalPath`` with nothing changed;
/// - ``answer(_:router:gateway:)`` is the async wrapper the Hummingbird responders await: full
///   admission (it may refuse, wake the API from zero, queue with a timeout) and
///   `networking.request_timeout` (504).
///
/// Both send through ``send(_:on:router:batchOf:completion:)``, the one place a frame goes out and
/// a slot comes back, and answer through ``finish(_:leased:)``, the one hook point
/// (``ExchangeObserver``). The exchange is a value captured by its callbacks: no task, actor hop
/// or lock of its own; the router's lock guards admission.
struct ReplicaExchange: Sendable {
    /// What to send.
    let request: ReplicaRequest
    /// The API's router: admission, slots, queue, open batch.
    let router: APIRouter
    /// For connection failures at shutdown, logging and the observer.
    let gateway: Gateway
    /// When the request reached admission (`request_timeout` counts from here).
    let admitted: ContinuousClock.Instant
    /// Gets the answer, exactly once.
    private let deliver: @Sendable (GatewayAnswer) -> Void
    /// The request's spans when the gateway traces (``GatewayConfiguration/tracer``), else nil.
    private let trace: RequestTrace?

    /// An exchange of `request` with `router`'s API; `deliver` gets the answer exactly once, on
    /// whichever thread has it.
    init(
        _ request: ReplicaRequest, router: APIRouter, gateway: Gateway,
        deliver: @escaping @Sendable (GatewayAnswer) -> Void
    ) {
        self.request = request
        self.router = router
        self.gateway = gateway
        self.admitted = .now
        self.deliver = deliver
        self.trace = gateway.configuration.tracer.map {
            RequestTrace(
                tracer: $0, method: request.method, path: request.path, headers: request.headers, api: router.apiName,
                requestID: request.requestID)
        }
    }

    /// True when the request joins the open batch rather than leasing a slot of its own: a
    /// `predict` to an API with server-side batching (v2 frames never batch).
    private var batches: Bool { request.kind == .predict && router.batchesRequests }

    /// What ``startWithoutTask(near:)`` did.
    enum Start {
        /// The request is with a replica or in the open batch; the answer will be delivered.
        case started
        /// The request waits in the API's queue under this id (``APIRouter/cancelWaiting(_:)``
        /// gives the place up); the answer will be delivered.
        case queued(id: UInt64)
        /// Nothing happened: admission would refuse the request or wake the API from zero, or
        /// the API has a `request_timeout`; the normal path must serve it.
        case needsNormalPath
    }

    /// The fast path's start: admission without a task or a timer, on the caller's event loop
    /// (`loop`: a slot there is preferred).
    func startWithoutTask(near loop: ObjectIdentifier) -> Start {
        if batches {
            switch router.collect(request.batchItem, mayWake: false, callback: { finish(batchAnswer($0), leased: nil) }) {
            case .collected: return .started
            case .refused, .needsNormalPath: return .needsNormalPath
            }
        }
        switch router.leaseOrQueue(near: loop, callback: { run($0) }) {
        case .leased(let lease)?:
            run(on: lease)
            return .started
        case .queued(let id)?:
            return .queued(id: id)
        case nil:
            return .needsNormalPath
        }
    }

    /// The normal path's start: full admission (refusal, wake from zero, queueing with its
    /// timeout) and the API's `request_timeout`. `waiterID` names the request in the queue.
    func start(waiterID: UInt64, near loop: ObjectIdentifier?) {
        if batches {
            let answered = timed(inBatch: true, on: nil) { finish($0, leased: nil) }
            switch router.collect(request.batchItem, mayWake: true, callback: { answered(batchAnswer($0)) }) {
            case .collected: break
            case .refused(let reason): answered(.error(router.rejection(reason), api: router.apiName))
            case .needsNormalPath: preconditionFailure("only the fast path defers a request")
            }
            return
        }
        switch router.lease(id: waiterID, near: loop, { $0.admit() }, waiter: { run($0) }) {
        case .success(let lease)?: run(on: lease)
        case .failure(let rejection)?: finish(.error(rejection, api: router.apiName, shape: request.errorShape), leased: nil)
        case nil: break  // queued: `run` gets the slot or the failure that ended the wait
        }
    }

    /// The end of a wait in the queue: the slot, or the failure (a rejection, or the waiter was
    /// cancelled).
    private func run(_ leased: Result<SlotLease, any Error>) {
        switch leased {
        case .success(let lease):
            run(on: lease)
        case .failure(let rejection as GatewayRejection):
            finish(.error(rejection, api: router.apiName, shape: request.errorShape), leased: nil)
        case .failure:
            finish(
                .error(
                    status: 503, kind: .cancelled, message: "the request was cancelled while queued",
                    api: router.apiName, shape: request.errorShape),
                leased: nil)
        }
    }

    /// Sends the request's frame on `lease` and answers from the reply; with a `request_timeout`
    /// the client gets 504 when it passes first (the slot stays busy until the replica answers,
    /// so a replica never gets more requests than it has slots).
    private func run(on lease: SlotLease) {
        let leased = ContinuousClock.now
        // Without a timeout (the fast path's case) the reply is answered straight from the send's
        // completion: no deliverer closure and no lock beyond the router's.
        let once = lease.requestTimeout.map { timeout in
            armTimeout(timeout, inBatch: false, on: lease.connection.channel.eventLoop) { finish($0, leased: leased) }
        }
        let traceparent = trace?.leased()
        let frame = ReplicaFrame(header: request.header(for: lease.connection, traceparent: traceparent), body: request.body)
        Self.send(frame, on: lease, router: router) { [self] result in
            let answer: GatewayAnswer
            switch result {
            case .success(let reply):
                // Parsed once, for the answer and the trace's predict span.
                let header = try? ReplicaResponseHeader(parsing: reply.header)
                answer = request.answer(for: reply, header: header, api: router.apiName)
                trace?.answered(status: answer.status, timing: header?.timing)
            case .failure(let error):
                let failure = gateway.connectionFailure(error, api: router.apiName, requestID: request.requestID)
                answer = .error(failure, api: router.apiName, requestID: request.requestID, shape: request.errorShape)
            }
            if let once { once.deliver(answer) } else { finish(answer, leased: leased) }
        }
    }

    /// With a `request_timeout`, a deliverer that passes on to `finish` the first of the answer
    /// and the 504 at `admitted + timeout` (armed on `loop`, or the caller's); without one,
    /// `finish` itself.
    private func timed(
        inBatch: Bool, on loop: (any EventLoop)?, finish: @escaping @Sendable (GatewayAnswer) -> Void
    ) -> @Sendable (GatewayAnswer) -> Void {
        guard let timeout = router.requestTimeout else { return finish }
        let once = armTimeout(timeout, inBatch: inBatch, on: loop, finish: finish)
        return { once.deliver($0) }
    }

    /// Arms the 504 at `admitted + timeout` on `loop` (or the caller's) and returns the
    /// ``AnswerOnce`` that passes on to `finish` whichever comes first, the answer or the 504.
    private func armTimeout(
        _ timeout: Duration, inBatch: Bool, on loop: (any EventLoop)?,
        finish: @escaping @Sendable (GatewayAnswer) -> Void
    ) -> AnswerOnce {
        let once = AnswerOnce(finish)
        let remaining = max(timeout - admitted.duration(to: .now), .zero)
        let timer = loop ?? MultiThreadedEventLoopGroup.currentEventLoop ?? router.eventLoopGroup.next()
        let expired = request.timeoutAnswer(api: router.apiName, inBatch: inBatch)
        timer.scheduleTask(in: TimeAmount(remaining)) { once.deliver(expired) }
        return once
    }

    /// The answer of a request collected into a batch: its own reply from the replica, its item's
    /// error, the admission's rejection, or the failure of the connection that ran its batch.
    private func batchAnswer(_ result: Result<BatchAnswer, any Error>) -> GatewayAnswer {
        switch result {
        case .success(.reply(let status, let contentType, let body)):
            return GatewayAnswer(
                status: status, headers: [.contentType: contentType, .requestID: request.requestID], body: body)
        case .success(.failure(let status, let kind, let message)):
            return .error(
                status: status, kind: ErrorKind(rawValue: kind), message: message, api: router.apiName,
                headers: [.requestID: request.requestID])
        case .failure(let rejection as GatewayRejection):
            return .error(rejection, api: router.apiName)
        case .failure(let error):
            let failure = gateway.connectionFailure(error, api: router.apiName, requestID: request.requestID)
            return .error(failure, api: router.apiName, requestID: request.requestID)
        }
    }

    /// The one hook point: reports the exchange to each of the gateway's observers, if any, then
    /// hands the answer on. One record for all of them, built on the stack (no allocation).
    private func finish(_ answer: GatewayAnswer, leased: ContinuousClock.Instant?) {
        trace?.answered(status: answer.status, timing: nil)  // no-op when the reply ended the spans
        let observers = gateway.configuration.observers
        if !observers.isEmpty {
            let now = ContinuousClock.now
            let record = ExchangeRecord(
                api: router.apiName, kind: request.frameKind, requestID: request.requestID, status: answer.status,
                duration: admitted.duration(to: now), queued: leased.map { admitted.duration(to: $0) },
                prediction: predictionAnswer(answer))
            for observer in observers { observer.exchangeAnswered(record) }
        }
        deliver(answer)
    }

    /// The answer for prediction monitoring: only for an API with `monitoring` (one relaxed load
    /// otherwise), a `predict` and a 2xx status.
    private func predictionAnswer(_ answer: GatewayAnswer) -> PredictionAnswer? {
        guard router.monitorsPredictions, request.kind == .predict, (200..<300).contains(answer.status),
            let monitoring = router.monitoring
        else { return nil }
        return PredictionAnswer(monitoring: monitoring, body: answer.body)
    }

    /// Sends `frame` on `lease`'s connection; when the replica answers (on that connection's
    /// event loop) returns the slot — which may start the next queued request's exchange right
    /// there — dropping the connection if it broke, ends the batch of `batchOf` requests if it
    /// carried one, and calls `completion` with the reply. Every frame sent on a slot goes out
    /// here.
    static func send(
        _ frame: ReplicaFrame, on lease: SlotLease, router: APIRouter, batchOf requests: Int = 0,
        completion: @escaping @Sendable (Result<ReplicaFrame, any Error>) -> Void
    ) {
        let reply = lease.connection.channel.eventLoop.makePromise(of: ReplicaFrame.self)
        lease.connection.send(frame, promise: reply)
        reply.futureResult.whenComplete { result in
            let broken = if case .failure = result { true } else { false }
            router.release(lease, broken: broken, batchOf: requests)
            completion(result)
        }
    }
}

extension ReplicaExchange {
    /// The async wrapper for the Hummingbird responders: runs the exchange of `request` with full
    /// admission and returns its answer. Cancelling the waiting task gives a queued request's
    /// place up (503 `cancelled`).
    static func answer(_ request: ReplicaRequest, router: APIRouter, gateway: Gateway) async -> GatewayAnswer {
        let id = router.newWaiterID()
        let loop = APIRouter.currentLoop
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                ReplicaExchange(request, router: router, gateway: gateway) { continuation.resume(returning: $0) }
                    .start(waiterID: id, near: loop)
            }
        } onCancel: {
            router.cancelWaiting(id)
        }
    }
}

/// Passes on the first answer it is given and drops the others: the reply and the
/// `request_timeout` timer race for one client.
final class AnswerOnce: Sendable {
    private let target: Mutex<(@Sendable (GatewayAnswer) -> Void)?>

    init(_ target: @escaping @Sendable (GatewayAnswer) -> Void) {
        self.target = Mutex(target)
    }

    /// Hands `answer` on unless an answer was handed on already.
    @Sendable func deliver(_ answer: GatewayAnswer) {
        target.withLock { $0.take() }?(answer)
    }
}

extension Gateway {
    /// Why a request failed when the replica connection that held it broke: 503 `replica_stopped`
    /// when the server is cutting requests at shutdown, else 502 `replica_failed` (the worker went
    /// away; logged). Both carry `Retry-After: 1`.
    func connectionFailure(_ error: any Error, api: String, requestID: String) -> GatewayRejection {
        if isCuttingRequests {
            return GatewayRejection(
                status: 503, kind: .replicaStopped,
                message: "the server shut down before this request finished (request \(requestID)); retry",
                retryAfter: 1)
        }
        logger.warning(
            "replica connection failed", metadata: ["api": "\(api)", "request_id": "\(requestID)", "error": "\(error)"])
        return GatewayRejection(
            status: 502, kind: .replicaFailed,
            message: "the replica serving this request exited before answering (request \(requestID)); see `tern logs \(api)`",
            retryAfter: 1)
    }
}

extension HTTPField.Name {
    /// `X-Request-ID`: the request's id (the client's own when it sent a usable one), in every
    /// answer and in the replica's log lines about the request.
    static let requestID = HTTPField.Name("X-Request-ID")!
    /// `Inference-Header-Content-Length`: the size of the JSON part of a body that carries
    /// binary tensors after it (the Open Inference Protocol's binary tensor extension).
    static let inferenceHeaderLength = HTTPField.Name("Inference-Header-Content-Length")!
}
