import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import HummingbirdCore
import ServiceLifecycle
import Logging
import NIOCore
import TernCore

/// Settings of the control-plane HTTP API.
public struct ControlPlaneServerConfiguration: Sendable {
    /// Address to bind; default `127.0.0.1`.
    public var host: String
    /// Port to bind; `0` picks a free one. Default 8889.
    public var port: Int
    /// The bearer token every `/v1` request must carry.
    public var token: String
    /// `TERN_HOME`, reported by `/v1/info`.
    public var home: String
    /// The file `token` is stored in, which `POST /v1/token/rotate` rewrites; nil: the token
    /// cannot be rotated. Default nil.
    public var tokenFile: String?
    /// Serve HTTPS with this certificate and key (`tern serve --tls-certificate/--tls-key`);
    /// nil: plain HTTP. Default nil.
    public var tls: TLSConfiguration?
    /// How long a connection may go without a request part read or an answer written, while no
    /// request waits for its answer, before it is closed (Hummingbird's idle timeout): idle
    /// keep-alive connections, and request heads that trickle in (slowloris; a head is one part,
    /// so its bytes do not count as activity). A streamed answer (`logs?follow=true`) is never
    /// cut. Default 60 s (`tern serve --idle-timeout-seconds`).
    public var idleTimeout: Duration
    /// Largest request head in bytes (target plus header fields) and most header fields; over
    /// them the answer is 431 (with ``connectionHandlers`` from `tern serve`; Hummingbird's own is
    /// 400 with an empty body) and the connection is closed. Defaults 80 KiB and 100, the
    /// gateway's.
    public var maxHeaderBytes: Int
    /// Most header fields in one request head (see ``maxHeaderBytes``).
    public var maxHeaderCount: Int
    /// Channel handlers added to each connection after Hummingbird's HTTP/1 codec, new for each
    /// connection: `tern serve` passes the gateway's protocol-error responder, so that a request
    /// head the decoder refuses gets Tern's JSON error document rather than an empty 400.
    /// Default none.
    public var connectionHandlers: @Sendable () -> [any RemovableChannelHandler]

    /// Creates a configuration; defaults as documented on each property.
    public init(
        host: String = "127.0.0.1", port: Int = 8889, token: String, home: String, tokenFile: String? = nil,
        tls: TLSConfiguration? = nil,
        idleTimeout: Duration = .seconds(60), maxHeaderBytes: Int = 80 << 10, maxHeaderCount: Int = 100,
        connectionHandlers: @escaping @Sendable () -> [any RemovableChannelHandler] = { [] }
    ) {
        self.connectionHandlers = connectionHandlers
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.host = host
        self.port = port
        self.token = token
        self.home = home
        self.tokenFile = tokenFile
        self.tls = tls
    }

    /// The API's base URL, e.g. `https://127.0.0.1:8889` (`https` with ``tls``).
    public var url: String { "\(tls == nil ? "http" : "https")://\(host):\(port)" }
}

/// The control-plane HTTP API (`/v1`, JSON, bearer token); described in `docs/openapi.yaml`.
///
/// | method | path | what |
/// |---|---|---|
/// | GET | `/healthz` | liveness, no token |
/// | GET | `/dashboard` (and `/dashboard/app.js`, `/dashboard/style.css`) | the dashboard page, no token (it holds no data; its script calls `/v1` with the token) |
/// | GET | `/metrics` | Prometheus text exposition (docs/metrics.md); 404 `not_found` when metrics are off (`tern serve --no-metrics`) |
/// | GET | `/v1/info` | ``ServerInfo`` |
/// | GET | `/v1/openapi.json` | this API's OpenAPI document (``OpenAPIDocument``: `docs/openapi.yaml` as JSON) |
/// | POST | `/v1/deploy?config=tern.yaml&force=false` | body: the project as a zip; returns ``DeployResult`` (409 while an update is in progress, unless `force`) |
/// | POST | `/v1/apis/{name}/refresh` | rolling restart of every replica, 202 |
/// | GET | `/v1/apis` | `[APIDocument]` |
/// | GET | `/v1/apis/{name}` | ``APIDocument`` |
/// | DELETE | `/v1/apis/{name}` | 204 |
/// | GET | `/v1/apis/{name}/logs?follow=true&tail=N&replica=ID` | the API's log as text, streamed with `follow` (`replica` may be a job id: its workers' lines) |
/// | POST | `/v1/apis/{name}/jobs` | body: a job spec (``JobSpecParser``); returns ``JobDocument`` |
/// | GET | `/v1/apis/{name}/jobs` | `[JobDocument]`, newest first |
/// | GET | `/v1/apis/{name}/jobs/{id}` | ``JobDocument`` |
/// | DELETE | `/v1/apis/{name}/jobs/{id}` | stops the job; ``JobDocument`` |
/// | GET | `/v1/apis/{name}/jobs/{id}/dead-letters` | `[DeadLetter]` |
/// | POST | `/v1/apis/{name}/jobs/{id}/retry` | queues the dead letters again: `{"requeued": N}` |
/// | GET | `/v1/jobs` | every job, newest first |
/// | POST | `/v1/apis/{name}/keys` | a new API key (optional body ``APIKeyRequest``: its rate limit): ``CreatedAPIKey`` (the only time the key is shown) |
/// | GET | `/v1/keys?api=NAME` | `[APIKeyDocument]` (never the keys) |
/// | DELETE | `/v1/keys/{id}` | revokes a key at once; its ``APIKeyDocument`` |
/// | POST | `/v1/token/rotate` | a new control-plane token, written to the token file: `{"token_file": PATH}`; the old one is refused from then on |
/// | POST | `/v1/work/jobs/{id}/…` | the work protocol of the job's workers (docs/work-protocol.md; the job's own token) |
/// | POST | `/v1/work/async/{api}/…` | the work protocol of an AsyncAPI's workers (the queue's own token) |
public enum ControlPlaneServer {
    /// The media type of `GET /metrics`: Prometheus' text exposition format 0.0.4.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Builds the HTTP service (HTTPS with ``ControlPlaneServerConfiguration/tls``). `onRunning`
    /// receives the bound port. `metrics`, when given, renders the body of `GET /metrics` (the
    /// Prometheus text format) at each scrape; nil: the route answers 404 (metrics off).
    /// - Throws: NIOSSL's error when the TLS configuration cannot make a context; ``ConfigError``
    ///   when the embedded OpenAPI document is not valid YAML (never for a tested build).
    public static func makeService(
        controlPlane: ControlPlane, configuration: ControlPlaneServerConfiguration, uploadLimit: Int, logger: Logger,
        metrics: (@Sendable () async -> [UInt8])? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(home: configuration.home))
        router.get("healthz") { _, _ in "ok\n" }
        DashboardRoutes.add(to: router)
        let token = ControlToken(configuration.token, file: configuration.tokenFile)
        let v1 = router.group("v1").add(middleware: BearerTokenMiddleware(token: token))
        v1.post("token/rotate") { _, _ in try json(["token_file": try token.rotate()]) }
        // Outside /v1 (where Prometheus looks by default), behind the same token.
        router.group("metrics").add(middleware: BearerTokenMiddleware(token: token)).get { _, _ in
            guard let metrics else {
                throw ControlPlaneError(
                    status: .notFound, kind: .notFound,
                    message: "metrics are off: this server was started with --no-metrics")
            }
            return Response(
                status: .ok, headers: [.contentType: metricsContentType],
                body: .init(byteBuffer: ByteBuffer(bytes: await metrics())))
        }
        v1.post("apis/:name/keys") { request, context in
            let options = try await keyRequest(request)
            return try json(try await controlPlane.createKey(api: try context.parameters.require("name"), rateLimit: options.rateLimit))
        }
        v1.get("keys") { request, _ in try json(try await controlPlane.keys(api: request.uri.queryParameters.get("api"))) }
        v1.delete("keys/:id") { _, context in try json(try await controlPlane.revokeKey(id: try context.parameters.require("id"))) }
        let openAPI = ByteBuffer(bytes: try OpenAPIDocument.json())
        v1.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: openAPI))
        }
        v1.get("info") { _, _ in
            try json(
                ServerInfo(
                    version: ternVersion, gatewayURL: controlPlane.gatewayURL,
                    controlURL: configuration.url, home: configuration.home,
                    pid: getpid()))
        }
        v1.post("deploy") { request, _ in
            let config = request.uri.queryParameters.get("config") ?? "tern.yaml"
            if let declared = request.headers[.contentLength].flatMap(Int.init), declared > uploadLimit {
                throw bundleTooLarge(uploadLimit)
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: uploadLimit)
            } catch is NIOTooManyBytesError {
                throw bundleTooLarge(uploadLimit)
            }
            let force = request.uri.queryParameters.get("force") == "true"
            return try json(
                try await controlPlane.deploy(bundle: Data(body.readableBytesView), configPath: config, force: force))
        }
        v1.get("apis") { _, _ in try json(try await controlPlane.list()) }
        v1.get("apis/:name") { _, context in
            try json(try await controlPlane.get(try context.parameters.require("name")))
        }
        v1.delete("apis/:name") { _, context in
            try await controlPlane.delete(try context.parameters.require("name"))
            return Response(status: .noContent)
        }
        v1.post("apis/:name/refresh") { _, context in
            try await controlPlane.refresh(try context.parameters.require("name"))
            return Response(status: .accepted)
        }
        if let jobs = controlPlane.jobs {
            addJobRoutes(v1, jobs: jobs, bodyLimit: uploadLimit)
            addWorkRoutes(router.group("v1/work/jobs"), jobs: jobs)
        }
        if let queues = controlPlane.asyncQueues {
            addAsyncWorkRoutes(router.group("v1/work/async"), queues: queues)
        }
        v1.get("apis/:name/logs") { request, context in
            let name = try context.parameters.require("name")
            let follow = request.uri.queryParameters.get("follow").map { $0 == "true" || $0 == "1" } ?? false
            let tail = request.uri.queryParameters.get("tail").flatMap(Int.init)
            let replica = request.uri.queryParameters.get("replica")
            let lines = try await controlPlane.logs(name, replica: replica, follow: follow, tail: tail)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody { writer in
                    // Ends on shutdown too: an open follower must not hold `tern serve` up.
                    for try await line in lines.cancelOnGracefulShutdown() {
                        try await writer.write(ByteBuffer(string: line.rendered + "\n"))
                    }
                    try await writer.finish(nil)
                })
        }
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: configuration.maxHeaderBytes, maxHeaderListSize: configuration.maxHeaderBytes,
            maxHeaderFieldCount: configuration.maxHeaderCount)
        let handlers = configuration.connectionHandlers
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(
                additionalChannelHandlers: handlers(), idleTimeout: TimeAmount(configuration.idleTimeout),
                httpDecoderConfiguration: decoder))
        return Application(
            router: router,
            server: try configuration.tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// The optional body of `POST /v1/apis/{name}/keys` (an empty body: a key without limits).
    /// - Throws: ``ControlPlaneError`` 400 `bad_request` when it is not an ``APIKeyRequest``, 413
    ///   over 64 KiB.
    private static func keyRequest(_ request: Request) async throws -> APIKeyRequest {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: 64 << 10)
        } catch is NIOTooManyBytesError {
            throw ControlPlaneError(status: .contentTooLarge, kind: .payloadTooLarge, message: "the key request is larger than 64 KiB")
        }
        guard body.readableBytes > 0 else { return APIKeyRequest() }
        do {
            return try WireJSON.decoder().decode(APIKeyRequest.self, from: Data(body.readableBytesView))
        } catch {
            throw ControlPlaneError(
                status: .badRequest, kind: .badRequest,
                message: #"the key request is not JSON of the form {"rate_limit": {"requests": 10, "per": "second", "burst": 20}}"#)
        }
    }

    private static func addJobRoutes(_ v1: RouterGroup<BasicRequestContext>, jobs: JobService, bodyLimit: Int) {
        v1.post("apis/:name/jobs") { request, context in
            let body = try await collect(request, limit: bodyLimit)
            return try json(try await jobs.submit(api: try context.parameters.require("name"), body: body))
        }
        v1.get("apis/:name/jobs") { _, context in try json(try await jobs.jobs(api: try context.parameters.require("name"))) }
        v1.get("jobs") { _, _ in try json(try await jobs.jobs(api: nil)) }
        v1.get("apis/:name/jobs/:id") { _, context in
            try json(try await jobs.job(api: try context.parameters.require("name"), id: try context.parameters.require("id")))
        }
        v1.delete("apis/:name/jobs/:id") { _, context in
            try json(try await jobs.stop(api: try context.parameters.require("name"), id: try context.parameters.require("id")))
        }
        v1.get("apis/:name/jobs/:id/dead-letters") { _, context in
            try json(try await jobs.deadLetters(api: try context.parameters.require("name"), id: try context.parameters.require("id")))
        }
        v1.post("apis/:name/jobs/:id/retry") { _, context in
            let count = try await jobs.retry(api: try context.parameters.require("name"), id: try context.parameters.require("id"))
            return try json(["requeued": count])
        }
    }

    /// The work protocol (docs/work-protocol.md): each route checks the job's own token.
    private static func addWorkRoutes(_ work: RouterGroup<BasicRequestContext>, jobs: JobService) {
        let token = WorkRequest.token, ok = WorkRequest.ok
        work.post(":id/lease") { request, context in
            WorkRequest.respond(
                try await jobs.lease(
                    job: try context.parameters.require("id"), token: token(request), worker: try await WorkRequest.fields(request).worker ?? "?"))
        }
        work.post(":id/complete") { request, context in
            let body = try await WorkRequest.fields(request)
            try await jobs.completed(job: try context.parameters.require("id"), token: token(request), worker: body.worker ?? "?", error: body.error)
            return ok()
        }
        work.post(":id/items/:item/:action") { request, context in
            let id = try context.parameters.require("id")
            let item = try context.parameters.require("item")
            let body = try await WorkRequest.fields(request)
            let receipt = body.receipt ?? ""
            switch try context.parameters.require("action") {
            case "heartbeat": try await jobs.heartbeat(job: id, token: token(request), item: item, receipt: receipt)
            case "done": try await jobs.done(job: id, token: token(request), item: item, receipt: receipt)
            case "failed":
                try await jobs.failed(job: id, token: token(request), item: item, receipt: receipt, error: body.error ?? "failed")
            default: throw ControlPlaneError(status: .notFound, kind: .notFound, message: "no such work route")
            }
            return ok()
        }
    }

    /// The work protocol of AsyncAPI workers (docs/work-protocol.md): each route checks the queue's token.
    private static func addAsyncWorkRoutes(_ work: RouterGroup<BasicRequestContext>, queues: AsyncQueueService) {
        let token = WorkRequest.token, ok = WorkRequest.ok
        work.post(":api/lease") { request, context in
            WorkRequest.respond(
                try await queues.lease(
                    api: try context.parameters.require("api"), token: token(request), worker: try await WorkRequest.fields(request).worker ?? "?"))
        }
        work.post(":api/items/:item/:action") { request, context in
            let api = try context.parameters.require("api")
            let item = try context.parameters.require("item")
            let body = try await WorkRequest.fields(request, limit: WorkRequest.resultLimit)
            let receipt = body.receipt ?? ""
            switch try context.parameters.require("action") {
            case "heartbeat": try await queues.heartbeat(api: api, token: token(request), item: item, receipt: receipt)
            case "done":
                guard let result = Data(base64Encoded: body.bodyBase64 ?? "") else {
                    throw ControlPlaneError(status: .badRequest, kind: .badRequest, message: "done needs body_base64 (the result, base64)")
                }
                try await queues.done(
                    api: api, token: token(request), item: item, receipt: receipt, result: [UInt8](result),
                    contentType: body.contentType ?? "application/octet-stream", status: body.status ?? 200)
            case "failed":
                try await queues.failed(api: api, token: token(request), item: item, receipt: receipt, error: body.error ?? "failed")
            default: throw ControlPlaneError(status: .notFound, kind: .notFound, message: "no such work route")
            }
            return ok()
        }
    }

    private static func collect(_ request: Request, limit: Int) async throws -> [UInt8] {
        do {
            return Array(try await request.body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw ControlPlaneError(status: .contentTooLarge, kind: .payloadTooLarge, message: "the body is larger than \(limit) bytes")
        }
    }

    private static func bundleTooLarge(_ limit: Int) -> ControlPlaneError {
        ControlPlaneError(
            status: .contentTooLarge, kind: .bundleTooLarge,
            message: "the project bundle is larger than \(limit) bytes; exclude data files with .ternignore or raise `tern serve --max-bundle-bytes`")
    }

    static func json(_ value: some Encodable) throws -> Response {
        let data = try WireJSON.encoder().encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Reading the requests of the work protocol.
private enum WorkRequest {
    struct Fields: Decodable {
        var worker: String?
        var receipt: String?
        var error: String?
        /// AsyncAPI `done`: the result.
        var bodyBase64: String?
        var contentType: String?
        var status: Int?

        enum CodingKeys: String, CodingKey {
            case worker, receipt, error, status
            case bodyBase64 = "body_base64"
            case contentType = "content_type"
        }
    }

    /// The largest AsyncAPI result a worker may post (base64 of a 64 MiB result).
    static let resultLimit = (64 << 20) * 4 / 3 + 4096

    @Sendable static func fields(_ request: Request, limit: Int = 1 << 20) async throws -> Fields {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ControlPlaneError(status: .contentTooLarge, kind: .payloadTooLarge, message: "the work request is larger than \(limit) bytes")
        }
        guard body.readableBytes > 0 else { return Fields() }
        do {
            return try JSONDecoder().decode(Fields.self, from: Data(body.readableBytesView))
        } catch {
            throw ControlPlaneError(status: .badRequest, kind: .badRequest, message: "the body is not the JSON the work protocol expects")
        }
    }

    @Sendable static func token(_ request: Request) -> String? {
        request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
    }

    /// The answer to a `lease`.
    static func respond(_ answer: WorkAnswer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer.json)))
    }

    @Sendable static func ok() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
    }
}

/// Requires `Authorization: Bearer <token>` (the current ``ControlToken``, compared in constant
/// time); answers 401 in Tern's JSON error shape otherwise.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: ControlToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let presented = request.headers[.authorization].flatMap { value -> Substring? in
            value.hasPrefix("Bearer ") ? value.dropFirst(7) : nil
        }
        guard let presented, token.matches(presented.utf8) else {
            throw ControlPlaneError(
                status: .unauthorized, kind: .unauthorized,
                message: "missing or wrong bearer token; the token is in TERN_HOME/token (the tern CLI sends it for you)")
        }
        return try await next(request, context)
    }
}

/// Renders every error that is not already a ``ControlPlaneError`` (unknown route, wrong method,
/// unexpected failure) in Tern's JSON error shape.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    /// `TERN_HOME`, named in the answer when its disk is full.
    let home: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ControlPlaneError {
            throw error
        } catch let error as HTTPError {
            let kind: ErrorKind =
                error.status == .notFound ? .notFound : error.status == .methodNotAllowed ? .methodNotAllowed : .badRequest
            let message = error.status == .notFound
                ? "no such route: \(request.method) \(request.uri.path); see docs/openapi.yaml"
                : (error.body ?? "\(error.status)")
            throw ControlPlaneError(status: error.status, kind: kind, message: message)
        } catch {
            context.logger.error("control-plane request failed", metadata: ["error": "\(error)"])
            throw ControlPlaneError.unexpected(error, home: home)
        }
    }
}
