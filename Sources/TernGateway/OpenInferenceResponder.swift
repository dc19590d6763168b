import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TernCore

/// Answers the Open Inference Protocol (KServe v2 REST) under `/v2` (see
/// `docs/open-inference-protocol.md`).
///
/// Liveness and readiness are answered by the gateway from its routers. Model metadata and
/// inference are answered by a replica of the API: they are ``ReplicaExchange``s of `v2_metadata`
/// and `v2_infer` frames (docs/replica-protocol.md) with the API's normal admission
/// (`networking.request_timeout`, 503 rejections), and the replica's answer is passed through.
/// Errors have the protocol's shape, `{"error": "<message>"}` (clients such as tritonclient
/// read `error` as a string), with Tern's `kind` and `api` beside it.
struct OpenInferenceResponder {
    let gateway: Gateway

    /// Answers one request whose path is `/v2` or starts with `/v2/`.
    func respond(to request: Request) async -> GatewayAnswer {
        let route: OpenInferenceRoute
        switch OpenInferenceRoute.parse(method: request.method, path: request.uri.path) {
        case .success(let parsed):
            route = parsed
        case .failure(let mismatch):
            var headers = HTTPFields()
            if let allow = mismatch.allow { headers[.allow] = allow }
            return .error(
                status: mismatch.status, kind: mismatch.kind, message: mismatch.message, api: nil, headers: headers,
                shape: .openInference)
        }
        switch route {
        case .serverMetadata:
            return GatewayAnswer.json(
                200,
                #"{"name":"tern","version":\#(JSONText.quoted(ternVersion)),"extensions":["binary_tensor_data"]}"#)
        case .serverLive:
            return GatewayAnswer.json(200, #"{"live":true}"#)
        case .serverReady:
            var notReady: [String] = []
            for router in gateway.allRouters where router.readyReplicas == 0 {
                notReady.append(router.apiName)
            }
            if notReady.isEmpty { return GatewayAnswer.json(200, #"{"ready":true}"#) }
            let names = notReady.sorted().map(JSONText.quoted).joined(separator: ",")
            return GatewayAnswer.json(503, #"{"ready":false,"apis_not_ready":[\#(names)]}"#)
        case .modelReady(let model, let version):
            let router: APIRouter
            switch self.router(for: model, request: request) {
            case .success(let found): router = found
            case .failure(let refusal): return refusal.answer
            }
            let ready = router.readyReplicas > 0
            let notReady = GatewayAnswer.json(503, #"{"name":\#(JSONText.quoted(model)),"ready":false}"#)
            guard ready else { return notReady }
            if OpenInferenceRoute.target(of: model).modelName != nil || version != nil {
                // Only a replica knows the API's models and versions: its metadata answer
                // decides (404 model_not_found for an unknown one, passed through).
                let metadata = await forward(
                    .openInferenceMetadata(model: model, version: version), request: request, body: ByteBuffer(),
                    router: router)
                guard metadata.status == 200 else { return metadata.status >= 500 ? notReady : metadata }
            }
            return GatewayAnswer.json(200, #"{"name":\#(JSONText.quoted(model)),"ready":true}"#)
        case .modelMetadata(let model, let version):
            let router: APIRouter
            switch self.router(for: model, request: request) {
            case .success(let found): router = found
            case .failure(let refusal): return refusal.answer
            }
            return await forward(
                .openInferenceMetadata(model: model, version: version), request: request, body: ByteBuffer(),
                router: router)
        case .infer(let model, let version):
            let router: APIRouter
            switch self.router(for: model, request: request) {
            case .success(let found): router = found
            case .failure(let refusal): return refusal.answer
            }
            let body: ByteBuffer
            switch await request.collectBody(
                limit: gateway.configuration.maxBodyBytes, api: router.apiName, shape: .openInference)
            {
            case .success(let read): body = read
            case .failure(let refusal): return refusal
            }
            return await forward(
                .openInferenceInfer(model: model, version: version), request: request, body: body, router: router)
        }
    }

    /// Runs the exchange of a `v2_metadata` / `v2_infer` frame with a replica of the API.
    private func forward(
        _ kind: ReplicaRequest.Kind, request: Request, body: ByteBuffer, router: APIRouter
    ) async -> GatewayAnswer {
        var replicaRequest = ReplicaRequest(
            kind: kind, path: request.uri.path, query: request.uri.query, headers: request.headers, body: body)
        replicaRequest.method = request.method
        return await ReplicaExchange.answer(replicaRequest, router: router, gateway: gateway)
    }

    /// A 404 `model_not_found`, 401 `unauthorized` or 429 `rate_limited` answer, as a failure value.
    struct RouteRefusal: Error {
        var answer: GatewayAnswer
    }

    /// The router of the API a v2 model name designates; a 404 `model_not_found` when there is
    /// none. A TrafficSplitter is not a model: the protocol serves its target APIs by name (the
    /// weighted split is its own endpoint's job), and the message lists them. A 401
    /// `unauthorized` when the API needs a key and `request` carries no valid one; 429
    /// `rate_limited` when the key's rate limit is used up.
    private func router(for model: String, request: Request) -> Result<APIRouter, RouteRefusal> {
        let api = OpenInferenceRoute.target(of: model).api
        if let router = gateway.router(forAPI: api) {
            if let refusal = router.keys.refusal(for: request.headers, api: api, shape: .openInference) {
                return .failure(RouteRefusal(answer: refusal))
            }
            return .success(router)
        }
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
            RouteRefusal(
                answer: .error(status: 404, kind: .modelNotFound, message: message, api: nil, shape: .openInference)))
    }
}
