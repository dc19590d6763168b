/// One API of `tern.yaml`, validated, with every default filled in.
///
/// Keys follow Cortex's `cortex.yaml` (snake_case in YAML, camelCase here); durations are in
/// milliseconds, CPU in millicores and memory in bytes. ``ConfigLoader`` builds it; the other
/// modules read it.
public struct APISpec: Sendable, Equatable, Codable {
    /// `name`: a DNS-1035 label (see ``APIName``), unique in the file.
    public var name: String
    /// `kind`: what sort of API this is.
    public var kind: APIKind
    /// `predictor`: the Python code that answers requests; nil only for a TrafficSplitter.
    public var predictor: PredictorSpec?
    /// `networking`: where the API is served.
    public var networking: NetworkingSpec
    /// `compute`: resources of one replica.
    public var compute: ComputeSpec
    /// `autoscaling`: how many replicas run.
    public var autoscaling: AutoscalingSpec
    /// `update_strategy`: how a rolling update replaces replicas.
    public var updateStrategy: UpdateStrategySpec
    /// `monitoring`: what the predictions are, for metrics; nil when not given.
    public var monitoring: MonitoringSpec?
    /// `apis`: the APIs a TrafficSplitter sends traffic to; nil for other kinds.
    public var trafficSplit: [TrafficTarget]?

    /// Creates a spec; every section but `name`, `kind` and `predictor` has its documented defaults.
    /// The endpoint defaults to `/<name>`.
    public init(
        name: String,
        kind: APIKind = .realtimeAPI,
        predictor: PredictorSpec?,
        networking: NetworkingSpec? = nil,
        compute: ComputeSpec = ComputeSpec(),
        autoscaling: AutoscalingSpec = AutoscalingSpec(),
        updateStrategy: UpdateStrategySpec = UpdateStrategySpec(),
        monitoring: MonitoringSpec? = nil,
        trafficSplit: [TrafficTarget]? = nil
    ) {
        self.name = name
        self.kind = kind
        self.predictor = predictor
        self.networking = networking ?? NetworkingSpec(endpoint: "/" + name)
        self.compute = compute
        self.autoscaling = autoscaling
        self.updateStrategy = updateStrategy
        self.monitoring = monitoring
        self.trafficSplit = trafficSplit
    }
}

/// The kinds of API (`kind:`); encoded as its YAML spelling, e.g. `"RealtimeAPI"`.
public enum APIKind: String, Sendable, Equatable, Codable, CaseIterable {
    /// Answers requests synchronously over HTTP.
    case realtimeAPI = "RealtimeAPI"
    /// Runs jobs split into batches.
    case batchAPI = "BatchAPI"
    /// Accepts requests, answers them later by id.
    case asyncAPI = "AsyncAPI"
    /// Runs one task per job.
    case taskAPI = "TaskAPI"
    /// Splits traffic between other RealtimeAPIs by weight.
    case trafficSplitter = "TrafficSplitter"

    /// True for a RealtimeAPI: replicas answer requests from the gateway.
    public var servesRequests: Bool { self == .realtimeAPI }

    /// True for BatchAPI, TaskAPI and AsyncAPI: work waits in the control plane's durable queue
    /// and workers pull it (docs/work-protocol.md).
    public var queuesWork: Bool { self == .batchAPI || self == .taskAPI || self == .asyncAPI }

    /// True for BatchAPI and TaskAPI, whose work comes as jobs.
    public var runsJobs: Bool { self == .batchAPI || self == .taskAPI }
}

/// `networking`: where an API is served.
public struct NetworkingSpec: Sendable, Equatable, Codable {
    /// `endpoint`: the URL path, normalised to start with `/` and not end with one.
    /// Default: `/<name>`.
    public var endpoint: String
    /// `request_timeout`: how long a request may take, queueing included, in ms, more than 0
    /// and at most 24h; nil (the default) means no limit.
    public var requestTimeoutMs: Int64?
    /// `auth`: who may call the endpoint. Default ``APIAuth/none`` (anyone who reaches the gateway).
    public var auth: APIAuth

    /// Creates networking settings.
    public init(endpoint: String, requestTimeoutMs: Int64? = nil, auth: APIAuth = .none) {
        self.endpoint = endpoint
        self.requestTimeoutMs = requestTimeoutMs
        self.auth = auth
    }

    private enum CodingKeys: String, CodingKey { case endpoint, requestTimeoutMs, auth }

    /// Decodes a stored spec; one stored before `auth` existed reads as ``APIAuth/none``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        endpoint = try container.decode(String.self, forKey: .endpoint)
        requestTimeoutMs = try container.decodeIfPresent(Int64.self, forKey: .requestTimeoutMs)
        auth = try container.decodeIfPresent(APIAuth.self, forKey: .auth) ?? .none
    }
}

/// `networking.auth`: how the gateway admits a caller of an API's endpoint.
public enum APIAuth: String, Sendable, Equatable, Codable, CaseIterable {
    /// Anyone who can reach the gateway (the default).
    case none
    /// Only a request carrying one of the API's keys (`tern keys create`) in `Authorization:
    /// Bearer KEY` or `X-API-Key: KEY`; others get 401 `unauthorized`. See docs/security.md.
    case apiKey = "api_key"
}

/// `compute`: the resources of one replica.
public struct ComputeSpec: Sendable, Equatable, Codable {
    /// `cpu` in millicores (1000 = one CPU). Default: 200 (`200m`); 20…1 024 000 (1024 CPUs).
    public var cpuMillicores: Int
    /// `gpu`: number of GPUs, 0…64. Default: 0.
    public var gpu: Int
    /// `mem` in bytes: the memory reserved for the replica (a request, as in Cortex and
    /// Kubernetes' `resources.requests.memory`), not a limit; a replica that uses more is reported,
    /// not killed. nil (the default) reserves nothing. 20 MiB…1 PiB.
    public var memBytes: Int64?
    /// `mem_limit` in bytes: the most memory the replica's processes may use together; over it
    /// they are killed (Kubernetes' `resources.limits.memory`). nil (the default) means no limit.
    /// 20 MiB…1 PiB, and at least `mem` when both are set.
    public var memLimitBytes: Int64?

    /// Creates compute settings with Cortex's defaults.
    public init(cpuMillicores: Int = 200, gpu: Int = 0, memBytes: Int64? = nil, memLimitBytes: Int64? = nil) {
        self.cpuMillicores = cpuMillicores
        self.gpu = gpu
        self.memBytes = memBytes
        self.memLimitBytes = memLimitBytes
    }
}

/// `monitoring`: what the predictions are, so metrics can describe them.
public struct MonitoringSpec: Sendable, Equatable, Codable {
    /// `model_type` (required in the section).
    public var modelType: ModelType
    /// `key`: the key of the prediction in the predictor's JSON response, when it returns an object.
    public var key: String?

    /// What the model predicts.
    public enum ModelType: String, Sendable, Equatable, Codable, CaseIterable {
        /// Predicts a class label.
        case classification
        /// Predicts a number.
        case regression
    }

    /// Creates monitoring settings.
    public init(modelType: ModelType, key: String? = nil) {
        self.modelType = modelType
        self.key = key
    }
}

/// One entry of a TrafficSplitter's `apis`.
public struct TrafficTarget: Sendable, Equatable, Codable {
    /// `name`: the RealtimeAPI that gets the traffic.
    public var name: String
    /// `weight`: percentage of requests, 0…100. The weights of the non-shadow targets add up to
    /// 100; for the shadow, the percentage of requests copied to it.
    public var weight: Int
    /// `shadow`: the target gets a copy of the requests and its answers are dropped.
    /// Default: false; at most one shadow per splitter.
    public var shadow: Bool

    /// Creates a target.
    public init(name: String, weight: Int, shadow: Bool = false) {
        self.name = name
        self.weight = weight
        self.shadow = shadow
    }
}
