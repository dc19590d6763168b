import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import NIOCore
import Synchronization
import TernCore

/// Answers client HTTP requests: `POST /<endpoint>` predicts, `GET /<endpoint>` describes the
/// API, `GET /healthz` checks the gateway itself. Every error is the JSON shape of
/// ``ErrorDocument``.
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
            return await OpenInferenceResponder(gateway: gateway).respond(to: request)
        }
        // TrafficSplitter endpoints (TrafficSplit.swift): a POST is served as its picked target's own.
        if let split = gateway.split(forPath: path) {
            switch gateway.route(request, to: split) {
            case .answer(let response):
                return response
            case .forward(let target, let shadow):
                var request = request
                if let shadow {
                    switch await gateway.mirror(request, of: split, send: { await predict($0, router: shadow) }) {
                    case .success(let buffered): request = buffered
                    case .failure(let refusal): return refusal.response
                    }
                }
                var response = await predict(request, router: target)
                response.headers[.ternAPI] = target.apiName
                return response
            }
        }
        guard let router = gateway.router(forPath: path) else {
            return Self.error(
                status: 404, kind: "not_found",
                message: "no API is deployed at \(path); run `tern get` to list APIs and their endpoints", api: nil)
        }
        switch request.method {
        case .post:
            return await predict(request, router: router)
        case .get:
            return await describe(router)
        default:
            return Self.error(
                status: 405, kind: "method_not_allowed",
                message: "use POST to predict or GET for the API's status", api: router.apiName,
                headers: [.allow: "GET, POST"])
        }
    }

    private func describe(_ router: APIRouter) async -> Response {
        let ready = router.readyReplicas
        let inFlight = router.inFlight
        let status = ready > 0 ? "live" : "unavailable"
        let json = #"{"api":\#(JSONText.quoted(router.apiName)),"status":"\#(status)","ready_replicas":\#(ready),"in_flight":\#(inFlight)}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    private func predict(_ request: Request, router: APIRouter) async -> Response {
        let api = router.apiName
        let limit = gateway.configuration.maxBodyBytes
        let body: ByteBuffer
        switch await Self.readBody(request, limit: limit) {
        case .success(let read): body = read
        case .failure(.tooLarge): return Self.tooLarge(limit: limit, api: api)
        case .failure(.unreadable(let reason)):
            return Self.error(status: 400, kind: "bad_request", message: "could not read the request body: \(reason)", api: api)
        }

        let admitted = ContinuousClock.now
        if router.batchesRequests {
            return await predictInBatch(request, body: body, router: router, admitted: admitted)
        }
        let lease: SlotLease
        do {
            lease = try await router.acquire()
        } catch let rejection as GatewayRejection {
            return Self.error(rejection, api: api)
        } catch {
            return Self.error(status: 503, kind: "cancelled", message: "the request was cancelled while queued", api: api)
        }

        let requestID = RequestID.next()
        let frame = ReplicaFrame(
            header: Self.predictHeader(request, requestID: requestID, connection: lease.connection), body: body)
        let reply: ReplicaFrame
        do {
            reply = try await Self.exchange(frame, lease: lease, router: router, admitted: admitted)
        } catch is DeadlineExceeded {
            // The slot stays busy until the replica answers (its reply is discarded), so the
            // replica is never given more requests than it has slots.
            return Self.error(
                status: 504, kind: "timeout",
                message: "the request took longer than API \(api)'s networking.request_timeout (request \(requestID)); the prediction still runs to completion on the replica",
                api: api, headers: [.requestID: requestID])
        } catch {
            return Self.error(
                Self.connectionFailure(error, gateway: gateway, api: api, requestID: requestID), api: api,
                requestID: requestID)
        }
        return Self.response(for: reply, api: api, requestID: requestID)
    }

    /// The server-side batching path: the request joins its API's open batch and gets its own
    /// answer once the batch ran (see `APIRouter+Batching.swift`).
    private func predictInBatch(
        _ request: Request, body: ByteBuffer, router: APIRouter, admitted: ContinuousClock.Instant
    ) async -> Response {
        let api = router.apiName
        let requestID = RequestID.next()
        let item = BatchRequest(
            requestID: requestID, path: request.uri.path, contentType: request.headers[.contentType],
            query: request.uri.query, headers: request.headers, body: body)
        let answer: Result<BatchAnswer, any Error>
        do {
            if let timeout = router.requestTimeout {
                let submission = Task { try await router.submit(item) }
                answer = .success(try await value(of: submission, timeout: max(timeout - admitted.duration(to: .now), .zero)))
            } else {
                answer = .success(try await router.submit(item))
            }
        } catch is DeadlineExceeded {
            // Its batch still runs (or waits for a slot); this request's answer is discarded.
            return Self.error(
                status: 504, kind: "timeout",
                message: "the request took longer than API \(api)'s networking.request_timeout, waiting for or running in a batch (request \(requestID))",
                api: api, headers: [.requestID: requestID])
        } catch {
            answer = .failure(error)
        }
        return Self.answer(for: answer, gateway: gateway, api: api, requestID: requestID).response
    }

    /// What a request collected into a batch gets as its answer: its own reply from the replica
    /// (status, content type, body, `X-Request-ID`), or in Tern's error shape its item's error, the
    /// admission's rejection, or the failure of the replica connection that ran its batch. Shared
    /// by this responder and ``PredictFastPath``.
    static func answer(
        for result: Result<BatchAnswer, any Error>, gateway: Gateway, api: String, requestID: String
    ) -> GatewayAnswer {
        switch result {
        case .success(.reply(let status, let contentType, let body)):
            return GatewayAnswer(
                status: status, headers: [.contentType: contentType, .requestID: requestID], body: body)
        case .success(.failure(let status, let kind, let message)):
            return errorAnswer(status: status, kind: kind, message: message, api: api, headers: [.requestID: requestID])
        case .failure(let rejection as GatewayRejection):
            return errorAnswer(rejection, api: api)
        case .failure(let error):
            return errorAnswer(connectionFailure(error, gateway: gateway, api: api, requestID: requestID), api: api, requestID: requestID)
        }
    }

    /// Why a request failed when the replica connection that held it broke: 503 `replica_stopped`
    /// when the server is cutting requests at shutdown, else 502 `replica_failed` (the worker went
    /// away; logged). Both carry `Retry-After: 1`. Shared by the predict and Open Inference paths,
    /// which render it in their own error shapes with the request id.
    static func connectionFailure(_ error: any Error, gateway: Gateway, api: String, requestID: String) -> GatewayRejection {
        if gateway.isCuttingRequests {
            return GatewayRejection(
                status: 503, kind: "replica_stopped",
                message: "the server shut down before this request finished (request \(requestID)); retry",
                retryAfter: 1)
        }
        gateway.logger.warning(
            "replica connection failed", metadata: ["api": "\(api)", "request_id": "\(requestID)", "error": "\(error)"])
        return GatewayRejection(
            status: 502, kind: "replica_failed",
            message: "the replica serving this request exited before answering (request \(requestID)); see `tern logs \(api)`",
            retryAfter: 1)
    }

    /// Why a request body could not be read: over the gateway's limit, or the read failed.
    enum BodyReadFailure: Error {
        case tooLarge
        case unreadable(String)
    }

    /// Reads the whole request body, refusing it early when `Content-Length` declares more than
    /// `limit` bytes. Shared by the predict and the Open Inference Protocol paths.
    static func readBody(_ request: Request, limit: Int) async -> Result<ByteBuffer, BodyReadFailure> {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            return .failure(.tooLarge)
        }
        do {
            return .success(try await request.body.collect(upTo: limit))
        } catch is NIOTooManyBytesError {
            return .failure(.tooLarge)
        } catch {
            return .failure(.unreadable("\(error)"))
        }
    }

    /// ``exchange(_:lease:router:)`` bounded by the lease's `request_timeout`, which covers
    /// queueing plus the replica's work: the exchange gets what is left since `admitted`.
    /// Without a timeout the exchange runs inline (no extra task on the hot path).
    /// - Throws: ``DeadlineExceeded`` when the time is up (the slot stays busy until the replica
    ///   answers, so a replica never gets more requests than it has slots), or the connection's error.
    static func exchange(
        _ frame: ReplicaFrame, lease: SlotLease, router: APIRouter, admitted: ContinuousClock.Instant
    ) async throws -> ReplicaFrame {
        guard let timeout = lease.requestTimeout else {
            return try await exchange(frame, lease: lease, router: router)
        }
        let remaining = timeout - admitted.duration(to: .now)
        let exchange = Task { try await Self.exchange(frame, lease: lease, router: router) }
        return try await value(of: exchange, timeout: max(remaining, .zero))
    }

    /// Sends `frame` on the leased slot and returns the slot (dropping it if the connection broke).
    static func exchange(_ frame: ReplicaFrame, lease: SlotLease, router: APIRouter) async throws -> ReplicaFrame {
        do {
            let reply = try await lease.connection.send(frame)
            router.release(lease, broken: false)
            return reply
        } catch {
            router.release(lease, broken: true)
            throw error
        }
    }

    /// The JSON header of the `predict` frame for `request` (see ``ReplicaFrame/predictHeader(requestID:path:query:contentType:headers:acceptsQuery:acceptsHeaders:)``):
    /// `query` and `headers` only for a predictor that declares them.
    static func predictHeader(_ request: Request, requestID: String, connection: ReplicaConnection) -> ByteBuffer {
        ReplicaFrame.predictHeader(
            requestID: requestID, path: request.uri.path, query: request.uri.query,
            contentType: request.headers[.contentType], headers: request.headers,
            acceptsQuery: connection.acceptsQuery, acceptsHeaders: connection.acceptsHeaders)
    }

    /// Turns a replica's response frame into an HTTP response.
    static func response(for reply: ReplicaFrame, api: String, requestID: String) -> Response {
        answer(for: reply, api: api, requestID: requestID).response
    }

    /// A replica's response frame as the client's answer: its status, content type and body
    /// with `X-Request-ID`; a replica error in Tern's error shape; 502 `bad_replica_response`
    /// for an unreadable header. Shared by this responder and ``PredictFastPath``.
    static func answer(for reply: ReplicaFrame, api: String, requestID: String) -> GatewayAnswer {
        guard let header = try? ReplicaResponseHeader(parsing: reply.header) else {
            return errorAnswer(status: 502, kind: "bad_replica_response", message: "the replica sent an unreadable response header", api: api)
        }
        if let failure = header.error {
            return errorAnswer(
                status: header.status, kind: failure.kind, message: failure.message, api: api,
                headers: [.requestID: requestID])
        }
        return GatewayAnswer(
            status: header.status,
            headers: [.contentType: header.contentType ?? "application/octet-stream", .requestID: requestID],
            body: reply.body)
    }

    static func tooLarge(limit: Int, api: String) -> Response {
        error(
            status: 413, kind: "payload_too_large",
            message: "the request body is larger than the gateway's limit of \(limit) bytes; start the server with `tern serve --max-body-bytes N` to change it",
            api: api, headers: [.connection: "close"])
    }

    /// A rejection or failure in Tern's error shape, with `Retry-After` when it has one and
    /// `X-Request-ID` when the request got an id.
    static func error(_ rejection: GatewayRejection, api: String, requestID: String? = nil) -> Response {
        errorAnswer(rejection, api: api, requestID: requestID).response
    }

    /// ``error(_:api:requestID:)`` before it becomes a Hummingbird `Response`.
    static func errorAnswer(_ rejection: GatewayRejection, api: String, requestID: String? = nil) -> GatewayAnswer {
        var headers = HTTPFields()
        if let retryAfter = rejection.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let requestID { headers[.requestID] = requestID }
        return errorAnswer(status: rejection.status, kind: rejection.kind, message: rejection.message, api: api, headers: headers)
    }

    /// A JSON error response in Tern's shape.
    static func error(status: Int, kind: String, message: String, api: String?, headers: HTTPFields = [:]) -> Response {
        errorAnswer(status: status, kind: kind, message: message, api: api, headers: headers).response
    }

    /// ``error(status:kind:message:api:headers:)`` before it becomes a Hummingbird `Response`:
    /// `{"error":{"kind":…,"message":…,"api":…}}` as `application/json`.
    static func errorAnswer(status: Int, kind: String, message: String, api: String?, headers: HTTPFields = [:]) -> GatewayAnswer {
        var fields = headers
        fields[.contentType] = "application/json"
        var json = #"{"error":{"kind":"# + JSONText.quoted(kind) + #","message":"# + JSONText.quoted(message)
        if let api { json += #","api":"# + JSONText.quoted(api) }
        json += "}}"
        return GatewayAnswer(status: status, headers: fields, body: ByteBuffer(string: json))
    }
}

/// An HTTP answer before it is written: status, header fields (without `Content-Length` and
/// `Date`, which the writer adds) and body. The Hummingbird responder and the fast path
/// (``PredictFastPath``) build their answers with the same functions, so both paths answer alike.
struct GatewayAnswer {
    var status: Int
    var headers: HTTPFields
    var body: ByteBuffer

    /// As a Hummingbird `Response` (Hummingbird adds `Content-Length` and `Date`).
    var response: Response {
        Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: body))
    }
}

extension HTTPField.Name {
    /// `X-Request-ID`: the id the gateway gives each request, also written to the replica's logs.
    static let requestID = HTTPField.Name("X-Request-ID")!
}

/// Request ids: a random per-process prefix and a counter (unique, cheap, sortable in logs).
enum RequestID {
    private static let prefix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    private static let counter = Atomic<UInt64>(0)

    /// The next id, e.g. `3f9a1c2b-17`.
    static func next() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "-" + String(n, radix: 16)
    }
}

/// Writing JSON text by hand for the gateway's fixed-shape documents.
enum JSONText {
    /// Header fields as a JSON object of lower-case names to values, e.g. `{"x-user":"7"}`
    /// (a repeated name appears once per value; the last one wins when decoded).
    static func object(_ fields: HTTPFields) -> String {
        var json = "{"
        var first = true
        for field in fields {
            if !first { json += "," }
            first = false
            json += quoted(field.name.canonicalName)
            json += ":"
            json += quoted(field.value)
        }
        json += "}"
        return json
    }

    /// `value` as a JSON string literal, quotes included (RFC 8259 escaping).
    static func quoted(_ value: String) -> String {
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }
}

