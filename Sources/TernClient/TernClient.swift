import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TernCore

/// An error answered by a Tern server (decoded from its JSON error document), or a failure to
/// reach it.
public struct ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status, or 0 when the server could not be reached.
    public var status: Int
    /// Error kind, e.g. ``ErrorKind/notFound``, ``ErrorKind/invalidConfig``; ``ErrorKind/unreachable``
    /// when the server could not be reached, ``ErrorKind/httpError`` for an answer without an error document.
    public var kind: ErrorKind
    /// The server's message.
    public var message: String

    /// Creates an error.
    public init(status: Int, kind: ErrorKind, message: String) {
        self.status = status
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Typed client of the control-plane API (`/v1`), used by the CLI and by tests.
///
/// Every call sends the bearer token; errors come back as ``ClientError``.
public struct TernClient: Sendable {
    /// Base URL of the control plane, e.g. `http://127.0.0.1:8889`.
    public var controlURL: String
    /// Bearer token.
    public var token: String
    /// The HTTP client its calls go through; also right for the server's gateway (it trusts the
    /// same certificates).
    public let http: HTTPClient

    /// Creates a client. `http` defaults to AsyncHTTPClient's shared client.
    public init(controlURL: String, token: String, http: HTTPClient = .shared) {
        self.controlURL = controlURL
        self.token = token
        self.http = http
    }

    /// Creates a client that trusts the PEM certificates of `caFile` besides the system's roots
    /// (``TrustedHTTPClient``); nil: the system's roots only.
    /// - Throws: NIOSSL's error when `caFile` cannot be read as PEM certificates.
    public init(controlURL: String, token: String, caFile: String?) throws {
        self.init(controlURL: controlURL, token: token, http: try TrustedHTTPClient.trusting(caFile))
    }

    /// `GET /v1/info`.
    /// - Parameter timeout: How long the whole call may take. AsyncHTTPClient retries a refused
    ///   connection until this deadline, so a liveness probe passes a short one (the CLI: 2 s).
    public func info(timeout: TimeAmount = .seconds(60)) async throws -> ServerInfo {
        try await call(.GET, "/v1/info", timeout: timeout)
    }

    /// `POST /v1/deploy`: uploads a project bundle (zip) whose config file is `configPath` inside it.
    public func deploy(bundle: Data, configPath: String, force: Bool = false) async throws -> DeployResult {
        let query = configPath.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? configPath
        return try await call(
            .POST, "/v1/deploy?config=\(query)&force=\(force)", body: bundle, contentType: "application/zip",
            timeout: .minutes(10))
    }

    /// `POST /v1/apis/{name}/refresh`: rolling restart of every replica.
    public func refresh(_ name: String) async throws {
        let _: Empty = try await call(.POST, "/v1/apis/\(Self.escape(name))/refresh")
    }

    /// `GET /v1/apis`.
    public func listAPIs() async throws -> [APIDocument] {
        try await call(.GET, "/v1/apis")
    }

    /// `GET /v1/apis/{name}`.
    public func getAPI(_ name: String) async throws -> APIDocument {
        try await call(.GET, "/v1/apis/\(Self.escape(name))")
    }

    /// `DELETE /v1/apis/{name}`.
    public func deleteAPI(_ name: String) async throws {
        let _: Empty = try await call(.DELETE, "/v1/apis/\(Self.escape(name))")
    }

    /// `GET /v1/apis/{name}/logs`: the log as a stream of byte chunks (endless with `follow`);
    /// `replica` keeps only that source's lines.
    public func logs(_ name: String, follow: Bool, tail: Int?, replica: String? = nil) async throws -> HTTPClientResponse.Body {
        var path = "/v1/apis/\(Self.escape(name))/logs?follow=\(follow)"
        if let tail { path += "&tail=\(tail)" }
        if let replica {
            path += "&replica=\(replica.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? replica)"
        }
        let response = try await execute(.GET, path, body: nil, contentType: nil, timeout: follow ? .hours(24 * 365) : .seconds(60))
        guard response.status == .ok else { throw try await Self.decodeError(response) }
        return response.body
    }

    /// `POST /v1/apis/{name}/jobs`: submits a job (the JSON job spec) to a BatchAPI or TaskAPI.
    public func submitJob(_ name: String, spec: Data) async throws -> JobDocument {
        try await call(.POST, "/v1/apis/\(Self.escape(name))/jobs", body: spec, contentType: "application/json")
    }

    /// `GET /v1/apis/{name}/jobs`, or `GET /v1/jobs` for every API's when `name` is nil.
    public func listJobs(_ name: String?) async throws -> [JobDocument] {
        try await call(.GET, name.map { "/v1/apis/\(Self.escape($0))/jobs" } ?? "/v1/jobs")
    }

    /// `GET /v1/apis/{name}/jobs/{id}`.
    public func getJob(_ name: String, id: String) async throws -> JobDocument {
        try await call(.GET, "/v1/apis/\(Self.escape(name))/jobs/\(Self.escape(id))")
    }

    /// `DELETE /v1/apis/{name}/jobs/{id}`: stops the job.
    public func stopJob(_ name: String, id: String) async throws -> JobDocument {
        try await call(.DELETE, "/v1/apis/\(Self.escape(name))/jobs/\(Self.escape(id))")
    }

    /// `GET /v1/apis/{name}/jobs/{id}/dead-letters`.
    public func deadLetters(_ name: String, id: String) async throws -> [DeadLetter] {
        try await call(.GET, "/v1/apis/\(Self.escape(name))/jobs/\(Self.escape(id))/dead-letters")
    }

    /// `POST /v1/apis/{name}/jobs/{id}/retry`: queues the dead letters again; returns how many.
    public func retryJob(_ name: String, id: String) async throws -> Int {
        let answer: [String: Int] = try await call(.POST, "/v1/apis/\(Self.escape(name))/jobs/\(Self.escape(id))/retry")
        return answer["requeued"] ?? 0
    }

    /// `POST /v1/apis/{name}/keys`: a new key of the API (the only time the key is sent),
    /// limited to `rateLimit` when given.
    public func createKey(_ name: String, rateLimit: RateLimit? = nil) async throws -> CreatedAPIKey {
        let body = try rateLimit.map { try WireJSON.encoder().encode(APIKeyRequest(rateLimit: $0)) }
        return try await call(.POST, "/v1/apis/\(Self.escape(name))/keys", body: body, contentType: "application/json")
    }

    /// `GET /v1/keys`, only `name`'s keys when given: ids and prefixes, never the keys.
    public func listKeys(_ name: String?) async throws -> [APIKeyDocument] {
        let query = name.map { "?api=" + ($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0) } ?? ""
        return try await call(.GET, "/v1/keys" + query)
    }

    /// `DELETE /v1/keys/{id}`: revokes the key at once.
    public func revokeKey(_ id: String) async throws -> APIKeyDocument {
        try await call(.DELETE, "/v1/keys/\(Self.escape(id))")
    }

    /// `POST /v1/token/rotate`: the server writes a new control-plane token to its token file and
    /// accepts only it from then on (this client's token stops working). Returns the file's path.
    public func rotateToken() async throws -> String {
        let answer: [String: String] = try await call(.POST, "/v1/token/rotate")
        return answer["token_file"] ?? ""
    }

    private struct Empty: Decodable {}

    private func call<T: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String? = nil, timeout: TimeAmount = .seconds(60)
    ) async throws -> T {
        let response = try await execute(method, path, body: body, contentType: contentType, timeout: timeout)
        guard (200..<300).contains(response.status.code) else { throw try await Self.decodeError(response) }
        if T.self == Empty.self { return Empty() as! T }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return try WireJSON.decoder().decode(T.self, from: Data(bytes.readableBytesView))
    }

    private func execute(
        _ method: HTTPMethod, _ path: String, body: Data?, contentType: String?, timeout: TimeAmount
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: controlURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: contentType ?? "application/octet-stream")
        }
        do {
            return try await http.execute(request, timeout: timeout)
        } catch {
            throw ClientError(
                status: 0, kind: .unreachable,
                message: "cannot reach the Tern server at \(controlURL) (\(error)); start it with `tern up`")
        }
    }

    private static func decodeError(_ response: HTTPClientResponse) async throws -> ClientError {
        let bytes = try await response.body.collect(upTo: 1 << 20)
        if let document = try? WireJSON.decoder().decode(ErrorDocument.self, from: Data(bytes.readableBytesView)) {
            return ClientError(status: Int(response.status.code), kind: document.error.kind, message: document.error.message)
        }
        return ClientError(
            status: Int(response.status.code), kind: .httpError,
            message: "the server answered \(response.status): \(String(buffer: bytes).prefix(200))")
    }

    private static func escape(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
    }
}
