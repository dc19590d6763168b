import HTTPTypes
import TernCore

/// One request of the Open Inference Protocol (KServe v2 REST,
/// https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/), recognised
/// from its method and path. A model is an API: `{name}` is the API's name.
///
/// Pure: no I/O; ``parse(method:path:)`` is the whole routing table of `/v2`.
enum OpenInferenceRoute: Equatable, Sendable {
    /// `GET /v2`: server metadata.
    case serverMetadata
    /// `GET /v2/health/live`.
    case serverLive
    /// `GET /v2/health/ready`: every API has a ready replica.
    case serverReady
    /// `GET /v2/models/{name}[/versions/{version}]`: the model's inputs and outputs.
    case modelMetadata(model: String, version: String?)
    /// `GET /v2/models/{name}[/versions/{version}]/ready`.
    case modelReady(model: String, version: String?)
    /// `POST /v2/models/{name}[/versions/{version}]/infer`.
    case infer(model: String, version: String?)

    /// Why a `/v2` request matches no route.
    struct Mismatch: Error, Equatable, Sendable {
        /// 404 (no such path) or 405 (the path exists for another method).
        var status: Int
        /// `not_found` or `method_not_allowed`.
        var kind: ErrorKind
        /// Says what was expected.
        var message: String
        /// For 405: the method the path takes (the `Allow` header).
        var allow: String?
    }

    /// Recognises a request under `/v2`.
    ///
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - path: the request path without the query, e.g. `/v2/models/iris/versions/2/infer`.
    /// - Returns: the route, or a ``Mismatch`` (404 for an unknown path, 405 for a wrong method)
    ///   whose message lists the protocol's paths.
    static func parse(method: HTTPRequest.Method, path: String) -> Result<Self, Mismatch> {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // "/v2/..." splits into "", "v2", ...; a trailing slash is tolerated.
        if parts.last == "" && parts.count > 2 { parts.removeLast() }
        guard parts.count >= 2, parts[0] == "", parts[1] == "v2" else { return .failure(notFound(path)) }
        let rest = Array(parts.dropFirst(2))
        let route: Self
        let wanted: HTTPRequest.Method
        switch rest.count {
        case 0:
            (route, wanted) = (.serverMetadata, .get)
        case 2 where rest[0] == "health" && rest[1] == "live":
            (route, wanted) = (.serverLive, .get)
        case 2 where rest[0] == "health" && rest[1] == "ready":
            (route, wanted) = (.serverReady, .get)
        default:
            guard rest.count >= 2, rest[0] == "models", !rest[1].isEmpty else { return .failure(notFound(path)) }
            let model = rest[1]
            var tail = Array(rest.dropFirst(2))
            var version: String?
            if tail.count >= 2, tail[0] == "versions" {
                guard !tail[1].isEmpty else { return .failure(notFound(path)) }
                version = tail[1]
                tail.removeFirst(2)
            }
            switch tail {
            case []: (route, wanted) = (.modelMetadata(model: model, version: version), .get)
            case ["ready"]: (route, wanted) = (.modelReady(model: model, version: version), .get)
            case ["infer"]: (route, wanted) = (.infer(model: model, version: version), .post)
            default: return .failure(notFound(path))
            }
        }
        guard method == wanted else {
            return .failure(
                Mismatch(
                    status: 405, kind: .methodNotAllowed,
                    message: "\(path) takes \(wanted.rawValue), not \(method.rawValue) (Open Inference Protocol)",
                    allow: wanted.rawValue))
        }
        return .success(route)
    }

    /// The model (API name) the route is about, nil for the server-wide routes.
    var model: String? {
        switch self {
        case .serverMetadata, .serverLive, .serverReady: nil
        case .modelMetadata(let model, _), .modelReady(let model, _), .infer(let model, _): model
        }
    }

    /// The API and, for an API with several models, the model a v2 model name designates:
    /// `iris` is API `iris` (its default model); `iris.setosa` is model `setosa` of API `iris`.
    /// API names never hold a dot (DNS-1035 labels), so the first dot separates the two.
    static func target(of model: String) -> (api: String, modelName: String?) {
        guard let dot = model.firstIndex(of: ".") else { return (model, nil) }
        return (String(model[..<dot]), String(model[model.index(after: dot)...]))
    }

    private static func notFound(_ path: String) -> Mismatch {
        Mismatch(
            status: 404, kind: .notFound,
            message: "\(path) is not an Open Inference Protocol path; the gateway serves GET /v2, "
                + "GET /v2/health/live, GET /v2/health/ready, GET /v2/models/{api}, GET /v2/models/{api}/ready, "
                + "POST /v2/models/{api}/infer (and the /v2/models/{api}/versions/{version}/... forms)")
    }
}
