/// The machine-readable `kind` of a Tern error document,
/// `{"error": {"kind": "...", "message": "...", "api": "..."}}` (control plane and gateway alike).
///
/// An open set modelled on async-http-client's `HTTPClientError`: the kinds Tern itself raises
/// are static members, so the compiler finds every use; a kind a replica reports (e.g. the Python
/// runtime's `predictor_error`) is carried through as ``init(rawValue:)`` without being listed.
/// The raw value is what clients and scripts match on: changing one is a breaking change of the
/// HTTP APIs (docs/behaviour.md lists them).
public struct ErrorKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The wire form, e.g. `no_ready_replica`.
    public let rawValue: String

    /// A kind from its wire form (any string: replicas may report kinds Tern does not list).
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A kind from a literal (tests and replica-reported kinds).
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The wire form.
    public var description: String { rawValue }

    /// Encodes as the bare string.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes as the bare string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

// MARK: request errors (both APIs)

extension ErrorKind {
    /// 400: the request could not be read (body, JSON, multipart, query).
    public static let badRequest: Self = "bad_request"
    /// 401: no or a wrong bearer token (control plane).
    public static let unauthorized: Self = "unauthorized"
    /// 429: the API key's rate limit is used up for now (gateway; `Retry-After` says when to retry).
    public static let rateLimited: Self = "rate_limited"
    /// 404: no API, route or job of that name.
    public static let notFound: Self = "not_found"
    /// 405: the method is not served at that path.
    public static let methodNotAllowed: Self = "method_not_allowed"
    /// 413: the request body is over the gateway's `--max-body-bytes`.
    public static let payloadTooLarge: Self = "payload_too_large"
    /// 500: an unexpected failure inside Tern.
    public static let internalError: Self = "internal"
    /// An HTTP error without a Tern error document (client side).
    public static let httpError: Self = "http_error"
    /// The server could not be reached (client side).
    public static let unreachable: Self = "unreachable"
}

// MARK: gateway: admission, replicas, timeouts

extension ErrorKind {
    /// 503: the API has no ready replica.
    public static let noReadyReplica: Self = "no_ready_replica"
    /// 503: `max_replica_concurrency × ready replicas` requests are already in flight.
    public static let overloaded: Self = "overloaded"
    /// 503: the request waited in the queue past its `request_timeout`.
    public static let queueTimeout: Self = "queue_timeout"
    /// 503: no replica became ready within the cold-start limit (scale from zero).
    public static let coldStartTimeout: Self = "cold_start_timeout"
    /// 503: a replica exited before it became ready while requests were held for it.
    public static let replicaFailedToStart: Self = "replica_failed_to_start"
    /// 503: the request was cancelled while it waited in the queue.
    public static let cancelled: Self = "cancelled"
    /// 504: queueing plus prediction took longer than `networking.request_timeout`.
    public static let timeout: Self = "timeout"
    /// 502: the replica serving the request exited before answering.
    public static let replicaFailed: Self = "replica_failed"
    /// 503: the server shut down before the request finished.
    public static let replicaStopped: Self = "replica_stopped"
    /// 431: the request head (request line and header fields) is over the gateway's size or
    /// header-count limit; the connection is closed.
    public static let headersTooLarge: Self = "headers_too_large"
    /// 408: the request head did not arrive within `tern serve --header-timeout-seconds`; the
    /// connection is closed.
    public static let headerTimeout: Self = "header_timeout"
    /// 505: the request is not HTTP/1.x (e.g. HTTP/2 with prior knowledge); the connection is closed.
    public static let httpVersionNotSupported: Self = "http_version_not_supported"
    /// 503: the gateway already holds `tern serve --max-connections` client connections; the new
    /// one is closed.
    public static let tooManyConnections: Self = "too_many_connections"
    /// 502: the replica's answer could not be read.
    public static let badReplicaResponse: Self = "bad_replica_response"
    /// 404 (Open Inference Protocol): no model of that name.
    public static let modelNotFound: Self = "model_not_found"
    /// 422 (TrafficSplitter deploy): a target API is not deployed.
    public static let targetNotFound: Self = "target_not_found"
    /// 503 (TrafficSplitter): the picked target API has no route in the gateway.
    public static let targetUnavailable: Self = "target_unavailable"
    /// 503 (TrafficSplitter): every target has weight 0.
    public static let noTarget: Self = "no_target"
}

// MARK: control plane: deploys and specs

extension ErrorKind {
    /// 422: `tern.yaml` is invalid (the message names the API, key and line).
    public static let invalidConfig: Self = "invalid_config"
    /// 400: the config path given with a deploy is not a safe relative path.
    public static let invalidConfigPath: Self = "invalid_config_path"
    /// 422: the project bundle is not a safe zip archive.
    public static let invalidBundle: Self = "invalid_bundle"
    /// 413: the project bundle is over the server's limit.
    public static let bundleTooLarge: Self = "bundle_too_large"
    /// 409: another deploy or delete of the API is under way.
    public static let updateInProgress: Self = "update_in_progress"
    /// 409: a deployed API already has this name with another kind.
    public static let kindChange: Self = "kind_change"
    /// 409: another API already serves this endpoint.
    public static let endpointTaken: Self = "endpoint_taken"
    /// 409: a TrafficSplitter still routes to the API.
    public static let apiInUse: Self = "api_in_use"
    /// 422: a TrafficSplitter names a target it cannot route to (not a RealtimeAPI).
    public static let invalidTarget: Self = "invalid_target"
    /// 422: the API (a TrafficSplitter) has no replicas of its own to act on.
    public static let noReplicas: Self = "no_replicas"
    /// 507: the file system of `TERN_HOME` is full (or over its quota); the request was not carried out.
    public static let diskFull: Self = "disk_full"
}

// MARK: jobs

extension ErrorKind {
    /// 422: a job submission the API cannot run (the message names the key).
    public static let invalidJob: Self = "invalid_job"
    /// 409 (work protocol): the worker's lease of an item is gone.
    public static let leaseLost: Self = "lease_lost"
}
