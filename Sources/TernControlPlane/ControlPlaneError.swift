import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import TernCore

/// An error of the control-plane API; renders itself as Tern's JSON error document.
///
/// Status codes: 400 bad request, 401 unauthorised, 404 unknown API, 409 conflict,
/// 413 bundle too large, 422 invalid config or bundle, 507 `TERN_HOME`'s disk full.
public struct ControlPlaneError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status.
    public var status: HTTPResponse.Status
    /// Machine-readable kind (the error document's `kind`).
    public var kind: ErrorKind
    /// What went wrong and what to do.
    public var message: String
    /// The API concerned.
    public var api: String?

    /// Creates an error.
    public init(status: HTTPResponse.Status, kind: ErrorKind, message: String, api: String? = nil) {
        self.status = status
        self.kind = kind
        self.message = message
        self.api = api
    }

    public var description: String { message }

    /// No API called `name`.
    static func notFound(_ name: String) -> Self {
        Self(status: .notFound, kind: .notFound, message: "API \(name) is not deployed; run `tern get` to list APIs", api: name)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try WireJSON.encoder().encode(ErrorDocument(kind: kind, message: message, api: api))
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
