import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TernCore

/// Answers the Open Inference Protocol (KServe v2 REST) under `/v2` (see
/// `docs/open-inference-protocol.md`).
///
/// Liveness and readiness are answered by the gateway from its routers. Model metadata and
/// inference are answered by a replica of the API: they go through the API's normal admission
/// (``APIRouter/acquire()``, `networking.request_timeout`, 503 rejections) as `v2_metadata` and
/// `v2_infer` frames (docs/replica-protocol.md), and the replica's answer is passed through.
/// Errors have the protocol's shape, `{"error": "<message>"}` (clients such as tritonclient
/// read `error` as a string), with Tern's `kind` and `api` beside it.
struct OpenInferenceResponder {
    let gateway: Gateway

    /// `Inference-Header-Content-Length`: the size of the JSON part of a body that carries
    /// binary tensors after it (the protocol's binary tensor extension).
    static let inferenceHeaderLength = HTTPField.Name("Inference-Header-Content-Length")!

    /// Answers one request whose path is `/v2` or starts with `/v2/`.
    func respond(to request: Request) async -> Response {
        let route: OpenInferenceRoute
        switch OpenInferenceRoute.parse(method: request.method, path: request.uri.path) {
        case .success(let parsed):
            route = parsed
        case .failure(let mismatch):
            var headers = HTTPFields()
            if let allow = mismatch.allow { headers[.allow] = allow }
            return Self.error(
                status: mismatch.status, kind: mismatch.kind, message: mismatch.message, api: nil, headers: headers)
        }
        switch route {
        case .serverMetadata:
            return Self.json(
                200,
                #"{"name":"tern","version":\#(JSONText.quoted(ternVersion)),"extensions":["binary_tensor_data"]}"#)
        case .serverLive:
            return Self.json(200, #"{"live":true}"#)
        case .serverReady:
            var notReady: [String] = []
            for router in gateway.allRouters where router.readyReplicas == 0 {
                notReady.append(router.apiName)
            }
            if notReady.isEmpty { return Self.json(200, #"{"ready":true}"#) }
            let names = notReady.sorted().map(JSONText.quoted).joined(separator: ",")
            return Self.json(503, #"{"ready":false,"apis_not_ready":[\#(names)]}"#)
        case .modelReady(let model, let version):
            let router: APIRouter
            switch self.router(for: model) {
            case .success(let found): router = found
            case .failure(let notFound): return notFound.response
            }
            let ready = router.readyReplicas > 0
            let notReady = Self.json(503, #"{"name":\#(JSONText.quoted(model)),"ready":false}"#)
            guard ready else { return notReady }
            if OpenInferenceRoute.target(of: model).modelName != nil || version != nil {
                // Only a replica knows the API's models and versions: its metadata answer
                // decides (404 model_not_found for an unknown one, passed through).
                let metadata = await forward(
                    kind: "v2_metadata", request: request, body: ByteBuffer(), model: model, version: version,
                    router: router)
                guard metadata.status == .ok else { return metadata.status.code >= 500 ? notReady : metadata }
            }
            return Self.json(200, #"{"name":\#(JSONText.quoted(model)),"ready":true}"#)
        case .modelMetadata(let model, let version):
            let router: APIRouter
            switch self.router(for: model) {
            case .success(let found): router = found
            case .failure(let notFound): return notFound.response
            }
            return await forward(
                kind: "v2_metadata", request: request, body: ByteBuffer(), model: model, version: version, router: router)
        case .infer(let model, let version):
            let router: APIRouter
            switch self.router(for: model) {
            case .success(let found): router = found
            case .failure(let notFound): return notFound.response
            }
            let api = router.apiName
            let limit = gateway.configuration.maxBodyBytes
            let body: ByteBuffer
            switch await GatewayResponder.readBody(request, limit: limit) {
            case .success(let read): body = read
            case .failure(.tooLarge): return Self.tooLarge(limit: limit, api: api)
            case .failure(.unreadable(let reason)):
                return Self.error(
                    status: 400, kind: "bad_request", message: "could not read the request body: \(reason)", api: api)
            }
            return await forward(
                kind: "v2_infer", request: request, body: body, model: model, version: version, router: router)
        }
    }

    /// Sends a `v2_metadata` / `v2_infer` frame to a replica of the API through its admission
    /// and turns the answer into the HTTP response.
    private func forward(
        kind: String, request: Request, body: ByteBuffer, model: String, version: String?, router: APIRouter
    ) async -> Response {
        let api = router.apiName
        let admitted = ContinuousClock.now
        let lease: SlotLease
        do {
            lease = try await router.acquire()
        } catch let rejection as GatewayRejection {
            return Self.error(rejection, api: api)
        } catch {
            return Self.error(
                status: 503, kind: "cancelled", message: "the request was cancelled while queued", api: api)
        }
        let requestID = RequestID.next()
        let header = Self.frameHeader(
            kind: kind, requestID: requestID, path: request.uri.path, model: model, version: version,
            contentType: request.headers[.contentType],
            inferenceHeaderLength: request.headers[Self.inferenceHeaderLength],
            headers: lease.connection.acceptsHeaders ? request.headers : nil)
        let frame = ReplicaFrame(header: ByteBuffer(string: header), body: body)
        let reply: ReplicaFrame
        do {
            reply = try await GatewayResponder.exchange(frame, lease: lease, router: router, admitted: admitted)
        } catch is DeadlineExceeded {
            return Self.error(
                status: 504, kind: "timeout",
                message: "the request took longer than API \(api)'s networking.request_timeout (request \(requestID)); the inference still runs to completion on the replica",
                api: api, headers: [.requestID: requestID])
        } catch {
            return Self.error(
                GatewayResponder.connectionFailure(error, gateway: gateway, api: api, requestID: requestID), api: api,
                requestID: requestID)
        }
        guard
            let answer = try? JSONDecoder().decode(OpenInferenceReplyHeader.self, from: Data(reply.header.readableBytesView))
        else {
            return Self.error(
                status: 502, kind: "bad_replica_response", message: "the replica sent an unreadable response header",
                api: api)
        }
        if let failure = answer.error {
            return Self.error(
                status: answer.status, kind: failure.kind, message: failure.message, api: api,
                headers: [.requestID: requestID])
        }
        var headers: HTTPFields = [
            .contentType: answer.contentType ?? "application/json", .requestID: requestID,
        ]
        if let length = answer.inferenceHeaderLength { headers[Self.inferenceHeaderLength] = String(length) }
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: reply.body))
    }

    /// The JSON header of a `v2_metadata` / `v2_infer` frame (docs/replica-protocol.md).
    static func frameHeader(
        kind: String, requestID: String, path: String, model: String, version: String?, contentType: String?,
        inferenceHeaderLength: String?, headers: HTTPFields? = nil
    ) -> String {
        var json = #"{"kind":"# + JSONText.quoted(kind) + #","id":1,"request_id":"# + JSONText.quoted(requestID)
        json += #","path":"# + JSONText.quoted(path) + #","model":"# + JSONText.quoted(model)
        if let modelName = OpenInferenceRoute.target(of: model).modelName {
            json += #","model_name":"# + JSONText.quoted(modelName)
        }
        if let version { json += #","version":"# + JSONText.quoted(version) }
        if let contentType { json += #","content_type":"# + JSONText.quoted(contentType) }
        if let inferenceHeaderLength {
            // Passed as the client wrote it; the runtime checks it (400 when not a valid size).
            json += #","inference_header_length":"# + JSONText.quoted(inferenceHeaderLength)
        }
        if let headers {
            // The request's HTTP headers, for predictors whose predict declares `headers`.
            json += #","headers":{"# + headers.map { JSONText.quoted($0.name.canonicalName) + ":" + JSONText.quoted($0.value) }
                .joined(separator: ",") + "}"
        }
        json += "}"
        return json
    }

    /// An error response in the protocol's shape with Tern's fields beside it:
    /// `{"error":"<message>","kind":"<kind>","api":"<api>"}` (`api` omitted when nil).
    static func error(status: Int, kind: String, message: String, api: String?, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        var json = #"{"error":"# + JSONText.quoted(message) + #","kind":"# + JSONText.quoted(kind)
        if let api { json += #","api":"# + JSONText.quoted(api) }
        json += "}"
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// A rejection or failure (its `Retry-After`, and `X-Request-ID` when given) in the protocol's error shape.
    static func error(_ rejection: GatewayRejection, api: String, requestID: String? = nil) -> Response {
        var headers = HTTPFields()
        if let retryAfter = rejection.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let requestID { headers[.requestID] = requestID }
        return error(status: rejection.status, kind: rejection.kind, message: rejection.message, api: api, headers: headers)
    }

    private static func tooLarge(limit: Int, api: String) -> Response {
        error(
            status: 413, kind: "payload_too_large",
            message: "the request body is larger than the gateway's limit of \(limit) bytes; start the server with `tern serve --max-body-bytes N` to change it",
            api: api, headers: [.connection: "close"])
    }

    /// A 404 `model_not_found` answer, as a failure value.
    struct ModelNotFound: Error {
        var response: Response
    }

    /// The router of the API a v2 model name designates; a 404 `model_not_found` when there is
    /// none. A TrafficSplitter is not a model: the protocol serves its target APIs by name (the
    /// weighted split is its own endpoint's job), and the message lists them.
    private func router(for model: String) -> Result<APIRouter, ModelNotFound> {
        let api = OpenInferenceRoute.target(of: model).api
        if let router = gateway.router(forAPI: api) { return .success(router) }
        let message: String
        if let split = gateway.splits.split(forAPI: api) {
            let targets = split.targets.map(\.name)
            message = "\(api) is a TrafficSplitter, not a model; the Open Inference Protocol serves its target APIs by name ("
                + targets.joined(separator: ", ") + "), e.g. /v2/models/\(targets.first ?? api)/infer; "
                + "the weighted split is served at \(split.endpoint)"
        } else {
            message = "no API named \(api) is deployed; in the Open Inference Protocol a model is an API (or `<api>.<model>` for one of an API's several models), so use an API name from `tern get`"
        }
        return .failure(
            ModelNotFound(response: Self.error(status: 404, kind: "model_not_found", message: message, api: nil)))
    }

    private static func json(_ status: Int, _ text: String) -> Response {
        Response(
            status: .init(code: status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The response header of a `v2_metadata` / `v2_infer` frame.
struct OpenInferenceReplyHeader: Decodable, Sendable {
    var status: Int
    var contentType: String?
    /// Size of the JSON part of a body followed by binary tensors.
    var inferenceHeaderLength: Int?
    var error: ReplicaResponseHeader.ErrorInfo?

    enum CodingKeys: String, CodingKey {
        case status, error
        case contentType = "content_type"
        case inferenceHeaderLength = "inference_header_length"
    }
}
