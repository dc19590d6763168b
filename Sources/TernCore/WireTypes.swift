import Foundation

/// One API as the control plane reports it (`GET /v1/apis/{name}`, `tern get NAME -o json`).
public struct APIDocument: Codable, Sendable, Equatable {
    /// The API's name.
    public var name: String
    /// The API's kind, e.g. `"RealtimeAPI"`.
    public var kind: String
    /// Current status, e.g. `live`.
    public var status: APIStatus
    /// Why the status is what it is, when it is not `live` (e.g. the last line of an init traceback);
    /// for a `live` API, a note such as out-of-memory restarts or a failed model reload.
    public var message: String?
    /// What the current revision is doing before its replicas can start (e.g.
    /// ``APIPhase/installingDependencies``); nil (absent in JSON) otherwise.
    public var phase: APIPhase?
    /// The full URL of the endpoint on the gateway, e.g. `http://127.0.0.1:8888/iris`.
    public var endpoint: String
    /// Revision number of the spec and project currently deployed (1, 2, …).
    public var revision: Int
    /// Replicas wanted now.
    public var requestedReplicas: Int
    /// Replicas of any revision that pass health checks and receive traffic.
    public var readyReplicas: Int
    /// Requests in flight in the gateway for this API (running plus queued).
    public var inFlight: Int
    /// Average in-flight requests over the autoscaling window (the autoscaler's signal); nil
    /// before the first sample.
    public var averageInFlight: Double?
    /// Every replica process, for `tern get NAME`.
    public var replicas: [ReplicaDocument]
    /// When the current revision was deployed (ISO 8601).
    public var updatedAt: Date
    /// A TrafficSplitter's `apis` (`name`, `weight`, `shadow`); nil (absent in JSON) for other kinds.
    public var trafficSplit: [TrafficTarget]?
    /// Ready replicas of the current revision (Cortex's `up-to-date`); nil (absent) for kinds
    /// without replicas of their own.
    public var upToDateReplicas: Int?
    /// Requests, latencies and status counts the gateway saw; nil (absent) before the first
    /// request since the server started.
    public var traffic: TrafficSummary?
    /// Prediction monitoring, for an API with `monitoring`; nil (absent) otherwise.
    public var predictions: PredictionSummary?
    /// What the API's replicas cost, when the server has prices (`--cost-per-cpu-hour`, …);
    /// nil (absent) otherwise.
    public var cost: CostSummary?

    /// Memberwise initialiser.
    public init(
        name: String, kind: String, status: APIStatus, message: String?, phase: APIPhase? = nil, endpoint: String,
        revision: Int, requestedReplicas: Int, readyReplicas: Int, inFlight: Int, averageInFlight: Double? = nil,
        replicas: [ReplicaDocument], updatedAt: Date, trafficSplit: [TrafficTarget]? = nil,
        upToDateReplicas: Int? = nil, traffic: TrafficSummary? = nil, predictions: PredictionSummary? = nil,
        cost: CostSummary? = nil
    ) {
        self.upToDateReplicas = upToDateReplicas
        self.traffic = traffic
        self.predictions = predictions
        self.cost = cost
        self.phase = phase
        self.trafficSplit = trafficSplit
        self.averageInFlight = averageInFlight
        self.name = name
        self.kind = kind
        self.status = status
        self.message = message
        self.endpoint = endpoint
        self.revision = revision
        self.requestedReplicas = requestedReplicas
        self.readyReplicas = readyReplicas
        self.inFlight = inFlight
        self.replicas = replicas
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case name, kind, status, message, phase, endpoint, revision, replicas
        case requestedReplicas = "requested_replicas"
        case readyReplicas = "ready_replicas"
        case inFlight = "in_flight"
        case averageInFlight = "average_in_flight"
        case updatedAt = "updated_at"
        case trafficSplit = "traffic_split"
        case upToDateReplicas = "up_to_date_replicas"
        case traffic, predictions, cost
    }
}

/// One replica process as reported in an ``APIDocument``.
public struct ReplicaDocument: Codable, Sendable, Equatable {
    /// Replica id, e.g. `iris-3f9a1c`.
    public var id: String
    /// The revision this replica serves.
    public var revision: Int
    /// Lifecycle state.
    public var state: ReplicaState
    /// Process id of the replica's main process, when running.
    public var pid: Int32?
    /// How many times this replica slot was restarted after its process exited.
    public var restarts: Int
    /// The last exit reason, e.g. `exit code 3 (predictor failed to load)`.
    public var lastExit: String?
    /// Seconds since the current run became ready; nil (absent) while it is not ready.
    public var uptimeSeconds: Double?
    /// Requests the gateway has sent to this replica and not yet had answered (its busy slots;
    /// queued requests wait for the API, not a replica); nil (absent) for a replica the gateway
    /// does not route to.
    public var inFlight: Int?

    /// Memberwise initialiser.
    public init(
        id: String, revision: Int, state: ReplicaState, pid: Int32?, restarts: Int, lastExit: String?,
        uptimeSeconds: Double? = nil, inFlight: Int? = nil
    ) {
        self.uptimeSeconds = uptimeSeconds
        self.inFlight = inFlight
        self.id = id
        self.revision = revision
        self.state = state
        self.pid = pid
        self.restarts = restarts
        self.lastExit = lastExit
    }

    enum CodingKeys: String, CodingKey {
        case id, revision, state, pid, restarts
        case lastExit = "last_exit"
        case uptimeSeconds = "uptime_seconds"
        case inFlight = "in_flight"
    }
}

/// What a deploy did to each API of the config file (`POST /v1/deploy`).
public struct DeployResult: Codable, Sendable, Equatable {
    /// What happened to one API.
    public struct Outcome: Codable, Sendable, Equatable {
        /// API name.
        public var name: String
        /// What the deploy did to it.
        public var action: Action
        /// The revision now deployed.
        public var revision: Int
        /// Memberwise initialiser.
        public init(name: String, action: Action, revision: Int) {
            self.name = name
            self.action = action
            self.revision = revision
        }
    }
    /// One outcome per API in file order.
    public var apis: [Outcome]
    /// The config's warnings (keys accepted without effect, ``ProjectConfig/warnings``), one line
    /// each as `file:line: api "name": key: message`; absent in documents of older servers.
    public var warnings: [String]
    /// Memberwise initialiser.
    public init(apis: [Outcome], warnings: [String] = []) {
        self.apis = apis
        self.warnings = warnings
    }

    private enum CodingKeys: String, CodingKey { case apis, warnings }

    /// Decodes a result; `warnings` defaults to none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apis = try container.decode([Outcome].self, forKey: .apis)
        warnings = try container.decodeIfPresent([String].self, forKey: .warnings) ?? []
    }

    /// Encodes a result; `warnings` only when there are some.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(apis, forKey: .apis)
        if !warnings.isEmpty { try container.encode(warnings, forKey: .warnings) }
    }

    /// What a deploy did to one API: encoded as its bare string (`"created"`, `"updated"`,
    /// `"unchanged"`). An open set, as ``ErrorKind``: a client decodes an action it does not know
    /// (from a newer server) rather than failing.
    public struct Action: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        /// The wire form, e.g. `created`.
        public var rawValue: String
        /// An action from its wire form.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The wire form.
        public var description: String { rawValue }

        /// The API was not deployed before: revision 1 (or the next after a delete) runs now.
        public static let created = Action(rawValue: "created")
        /// The spec or the project files changed: a new revision rolls out.
        public static let updated = Action(rawValue: "updated")
        /// Spec and files are those of the deployed revision: nothing was done.
        public static let unchanged = Action(rawValue: "unchanged")
    }
}

/// `GET /v1/info`: what a client needs to know about a running server.
public struct ServerInfo: Codable, Sendable, Equatable {
    /// Tern's version string.
    public var version: String
    /// Base URL of the gateway, e.g. `http://127.0.0.1:8888`.
    public var gatewayURL: String
    /// Base URL of the control plane.
    public var controlURL: String
    /// The server's `TERN_HOME`.
    public var home: String
    /// Process id of `tern serve`.
    public var pid: Int32
    /// With TLS on (`https` URLs): the PEM certificate file the server presents, which local
    /// clients trust in addition to the system's roots (so a self-signed certificate works).
    /// Only in `server.json`; nil otherwise.
    public var tlsCAFile: String?

    /// Memberwise initialiser.
    public init(version: String, gatewayURL: String, controlURL: String, home: String, pid: Int32, tlsCAFile: String? = nil) {
        self.version = version
        self.gatewayURL = gatewayURL
        self.controlURL = controlURL
        self.home = home
        self.pid = pid
        self.tlsCAFile = tlsCAFile
    }

    enum CodingKeys: String, CodingKey {
        case version, home, pid
        case gatewayURL = "gateway_url"
        case controlURL = "control_url"
        case tlsCAFile = "tls_ca_file"
    }
}

/// The JSON shape of every error Tern's HTTP servers return:
/// `{"error": {"kind": "...", "message": "...", "api": "..."}}`.
public struct ErrorDocument: Codable, Sendable, Equatable, Error {
    /// The inner object.
    public struct Body: Codable, Sendable, Equatable {
        /// Machine-readable kind, e.g. ``ErrorKind/notFound`` (encoded as its bare string, `not_found`).
        public var kind: ErrorKind
        /// Human-readable message saying what went wrong and what to do.
        public var message: String
        /// The API concerned, when there is one.
        public var api: String?
    }
    /// The error.
    public var error: Body

    /// Creates an error document.
    public init(kind: ErrorKind, message: String, api: String? = nil) {
        self.error = Body(kind: kind, message: message, api: api)
    }
}

/// Tern's version, reported by `tern version` and `/v1/info`.
public let ternVersion = "0.1.0"

/// The JSON coders used on Tern's wire (ISO 8601 dates in UTC with milliseconds, e.g.
/// `2026-12-06T22:44:36.123Z`; sorted keys for stable output, slashes not escaped).
public enum WireJSON {
    private static let withMilliseconds = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let wholeSeconds = Date.ISO8601FormatStyle()

    /// An encoder for control-plane documents.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        // Milliseconds: a job that ran 2.4 s must not read as 3 s (nor its items/s be off by a third).
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(withMilliseconds))
        }
        // H2 (C8): URLs print as `http://…`, not `http:\/\/…`.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A decoder for control-plane documents; it reads dates with or without fractional seconds
    /// (servers before 0.1.0 sent whole seconds).
    /// - Throws (when decoding): `DecodingError.dataCorrupted` for a date in another form.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = try? withMilliseconds.parse(text) { return date }
            if let date = try? wholeSeconds.parse(text) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
        }
        return decoder
    }
}
