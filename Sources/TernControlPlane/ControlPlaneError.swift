import Foundation
import GRDB
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

    /// The error to answer for `error`, which is none of Tern's: 507 `disk_full` when it is a full
    /// disk or quota (``OutOfSpace``, SQLite's `SQLITE_FULL`), naming `home` when given; else 500
    /// `internal` with its text.
    static func unexpected(_ error: any Error, home: String? = nil, api: String? = nil) -> Self {
        guard OutOfSpace.matches(error) || (error as? DatabaseError)?.resultCode == .SQLITE_FULL else {
            return Self(status: .internalServerError, kind: .internalError, message: "internal error: \(error)", api: api)
        }
        let disk = home.map { "the disk of TERN_HOME (\($0))" } ?? "the disk of TERN_HOME"
        let logs = home.map { "\($0)/logs" } ?? "TERN_HOME/logs"
        return Self(
            status: .init(code: 507, reasonPhrase: "Insufficient Storage"), kind: .diskFull,
            message: "\(disk) is full, so this request was not carried out. Free space there "
                + "(`tern delete` unused APIs, old logs in \(logs)) or give Tern more room, then try again",
            api: api)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try WireJSON.encoder().encode(ErrorDocument(kind: kind, message: message, api: api))
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
