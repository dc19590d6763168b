import HTTPTypes
import Hummingbird
import NIOCore
import TernCore

/// Answers the client HTTP requests the fast path (``PredictFastPath``) hands on: `POST
/// /<endpoint>` predicts, `GET /<endpoint>` describes the API, `GET /healthz` checks the gateway
/// itself, `/v2/...` is the Open Inference Protocol (``OpenInferenceResponder``), a
/// TrafficSplitter's endpoint picks a target. A thin adapter: predictions are
/// ``ReplicaExchange``s. Every error is the JSON shape of ``ErrorDocument``.
struct GatewayResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let gateway: Gateway

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path == "/healthz" {
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        // Open Inference Protocol (KServe v2): `/v2/...` unless an API's endpoint is that path.
        if path == "/v2" || path.hasPrefix("/v2/"), gateway.router(forPath: path) == nil {
            return await OpenInferenceResponder(gateway: gateway).respond(to: request).response
        }
        // TrafficSplitter endpoints (TrafficSplit.swift): a POST is served as its picked target's own.
        if let split = gateway.split(forPath: path) {
            switch gateway.route(request, to: split) {
            case .answer(let answer):
                return answer.response
            case .forward(let target, let shadow):
                var request = request
                if let shadow {
                    switch await gateway.mirror(request, of: split, send: { await predict($0, router: shadow) }) {
                    case .success(let buffered): request = buffered
                    case .failure(let refusal): return refusal.answer.response
                    }
                }
                var answer = await predict(request, router: target)
                answer.headers[.ternAPI] = target.apiName
                return answer.response
            }
        }
        if let queue = gateway.queueRoute(forPath: path) {
            return await answerQueue(request, api: queue.api, endpoint: path, subpath: "", handler: queue.handler)
        }
        guard let router = gateway.router(forPath: path) else {
            if let queue = gateway.queueRoute(forSubpath: path) {  // an AsyncAPI's `GET <endpoint>/<id>`
                return await answerQueue(request, api: queue.api, endpoint: queue.endpoint, subpath: queue.subpath, handler: queue.handler)
            }
            return GatewayAnswer.error(
                status: 404, kind: .notFound,
                message: "no API is deployed at \(path); run `tern get` to list APIs and their endpoints", api: nil
            ).response
        }
        switch request.method {
        case .post:
            return await predict(request, router: router).response
        case .get:
            if let refusal = router.keys.refusal(for: request.headers, api: router.apiName) { return refusal.response }
            return describe(router).response
        default:
            return GatewayAnswer.error(
                status: 405, kind: .methodNotAllowed,
                message: "use POST to predict or GET for the API's status", api: router.apiName,
                headers: [.allow: "GET, POST"]
            ).response
        }
    }

    private func describe(_ router: APIRouter) -> GatewayAnswer {
        let ready = router.readyReplicas
        let inFlight = router.inFlight
        let status = ready > 0 ? "live" : "unavailable"
        return .json(
            200,
            #"{"api":\#(JSONText.quoted(router.apiName)),"status":"\#(status)","ready_replicas":\#(ready),"in_flight":\#(inFlight)}"#)
    }

    /// A request to a queueing API's endpoint, answered by the control plane as Cortex did: for
    /// a BatchAPI or TaskAPI `POST` submits a job, `GET ?jobID=` gives its status, `DELETE
    /// ?jobID=` stops it; for an AsyncAPI `POST` queues a request and `GET <endpoint>/<id>`
    /// gives its status and result.
    private func answerQueue(_ request: Request, api: String, endpoint: String, subpath: String, handler: (any QueueEndpoint)?) async -> Response {
        guard let handler else {
            return GatewayAnswer.error(status: 503, kind: .unreachable, message: "the job service is not running yet; retry in a moment", api: api).response
        }
        var body: [UInt8] = []
        if request.method == .post {
            switch await request.collectBody(limit: gateway.configuration.maxBodyBytes, api: api) {
            case .success(let read): body = Array(read.readableBytesView)
            case .failure(let refusal): return refusal.response
            }
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let answer = await handler.handle(
            QueueRequest(api: api, endpoint: endpoint, method: request.method.rawValue, subpath: subpath, query: query, contentType: request.headers[.contentType], body: body))
        return Response(
            status: .init(code: answer.status), headers: [.contentType: answer.contentType], body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// Reads the body and runs the `predict` exchange (a batch item for a batching API).
    /// Without a valid key for an API that needs one, 401 before the body is read; 429 when
    /// the key's rate limit is used up.
    private func predict(_ request: Request, router: APIRouter) async -> GatewayAnswer {
        if let refusal = router.keys.refusal(for: request.headers, api: router.apiName) { return refusal }
        let body: ByteBuffer
        switch await request.collectBody(limit: gateway.configuration.maxBodyBytes, api: router.apiName) {
        case .success(let read): body = read
        case .failure(let refusal): return refusal
        }
        let replicaRequest = ReplicaRequest(predict: request, body: body)
        return await ReplicaExchange.answer(replicaRequest, router: router, gateway: gateway)
    }
}

extension ReplicaRequest {
    /// The `predict` request of a Hummingbird request whose body was read (`body`).
    init(predict request: Request, body: ByteBuffer) {
        self.init(kind: .predict, path: request.uri.path, query: request.uri.query, headers: request.headers, body: body)
        self.method = request.method
    }
}

extension Request {
    /// Reads the whole body, refusing it early when `Content-Length` declares more than `limit`
    /// bytes: the body, or the answer to give instead (413 `payload_too_large`, 400 `bad_request`
    /// when the read failed) in `shape`, naming `api`.
    func collectBody(
        limit: Int, api: String, shape: GatewayAnswer.ErrorShape = .tern
    ) async -> Result<ByteBuffer, GatewayAnswer> {
        if let declared = headers[.contentLength].flatMap(Int.init), declared > limit {
            return .failure(.tooLarge(limit: limit, api: api, shape: shape))
        }
        do {
            return .success(try await body.collect(upTo: limit))
        } catch is NIOTooManyBytesError {
            return .failure(.tooLarge(limit: limit, api: api, shape: shape))
        } catch {
            return .failure(
                .error(
                    status: 400, kind: .badRequest, message: "could not read the request body: \(error)", api: api,
                    shape: shape))
        }
    }
}

extension GatewayAnswer: Error {}
