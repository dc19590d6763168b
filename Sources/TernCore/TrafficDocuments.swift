/// Answers counted by status class (`2xx` is 200–299, and so on), as in an API document's
/// ``TrafficSummary``. Statuses outside 100–599 are not counted.
public struct StatusCounts: Codable, Sendable, Equatable {
    /// 100–199.
    public var informational: Int
    /// 200–299: predictions that succeeded.
    public var success: Int
    /// 300–399.
    public var redirection: Int
    /// 400–499: the client's fault (a predictor that rejects its payload, a bad key, 429).
    public var clientError: Int
    /// 500–599: the predictor raised, the replica failed, the gateway refused (503) or timed out (504).
    public var serverError: Int

    /// Counts; every class defaults to 0.
    public init(informational: Int = 0, success: Int = 0, redirection: Int = 0, clientError: Int = 0, serverError: Int = 0) {
        self.informational = informational
        self.success = success
        self.redirection = redirection
        self.clientError = clientError
        self.serverError = serverError
    }

    /// Every answer counted.
    public var total: Int { informational + success + redirection + clientError + serverError }

    enum CodingKeys: String, CodingKey {
        case informational = "1xx", success = "2xx", redirection = "3xx", clientError = "4xx", serverError = "5xx"
    }
}

/// What the gateway saw of one API's requests: rates and latencies over the last
/// ``windowSeconds``, counts by status over the window and since the server started. Counts
/// every request that reached admission (an unknown path, a refused key or a malformed request
/// is not an API's request); ``APIDocument/traffic``.
public struct TrafficSummary: Codable, Sendable, Equatable {
    /// The window's length in seconds (60).
    public var windowSeconds: Int
    /// Requests answered in the window.
    public var requests: Int
    /// ``requests`` per second of the window (requests / window length).
    public var requestRate: Double
    /// Median time from admission to the answer in the window, in milliseconds (to within 6 %:
    /// the midpoint of a log-scale histogram bucket); nil without requests.
    public var latencyP50Ms: Double?
    /// 99th percentile of the same, in milliseconds; nil without requests.
    public var latencyP99Ms: Double?
    /// Answers in the window by status class.
    public var responses: StatusCounts
    /// Answers since the server started (or the API was deployed again after a delete).
    public var totalResponses: StatusCounts

    /// Memberwise initialiser.
    public init(
        windowSeconds: Int, requests: Int, requestRate: Double, latencyP50Ms: Double?, latencyP99Ms: Double?,
        responses: StatusCounts, totalResponses: StatusCounts
    ) {
        self.windowSeconds = windowSeconds
        self.requests = requests
        self.requestRate = requestRate
        self.latencyP50Ms = latencyP50Ms
        self.latencyP99Ms = latencyP99Ms
        self.responses = responses
        self.totalResponses = totalResponses
    }

    enum CodingKeys: String, CodingKey {
        case windowSeconds = "window_seconds", requests, requestRate = "request_rate"
        case latencyP50Ms = "latency_p50_ms", latencyP99Ms = "latency_p99_ms", responses
        case totalResponses = "total_responses"
    }
}

/// Prediction monitoring (`monitoring: {model_type, key}`): what the predictor answered in the
/// last ``windowSeconds`` — the class distribution of a classifier, or count, min, max, mean and
/// percentiles of a regressor's values. Read from successful (2xx) `predict` answers;
/// ``APIDocument/predictions``.
public struct PredictionSummary: Codable, Sendable, Equatable {
    /// `monitoring.model_type`.
    public var modelType: MonitoringSpec.ModelType
    /// `monitoring.key`, when set.
    public var key: String?
    /// The window's length in seconds (60).
    public var windowSeconds: Int
    /// Predictions read in the window.
    public var count: Int
    /// Answers in the window whose prediction could not be read: not JSON with `key`, not a
    /// scalar, or (regression) not a number.
    public var unreadable: Int
    /// Answers in the window not read because more arrived in one second than the gateway reads
    /// (4,096); the statistics are then of a sample.
    public var skipped: Int
    /// Classification: predictions per class label (a JSON number as its text, `true`/`false`
    /// for booleans); labels beyond the first 100 in a window count under `(other)`. Nil for
    /// regression.
    public var classes: [String: Int]?
    /// Regression: the smallest value; nil for classification or without predictions.
    public var min: Double?
    /// Regression: the largest value.
    public var max: Double?
    /// Regression: the mean.
    public var mean: Double?
    /// Regression: the median (exact up to 512 values a second, of a sample beyond).
    public var p50: Double?
    /// Regression: the 99th percentile (as ``p50``).
    public var p99: Double?

    /// Memberwise initialiser; the regression figures default to nil.
    public init(
        modelType: MonitoringSpec.ModelType, key: String?, windowSeconds: Int, count: Int, unreadable: Int,
        skipped: Int, classes: [String: Int]? = nil, min: Double? = nil, max: Double? = nil, mean: Double? = nil,
        p50: Double? = nil, p99: Double? = nil
    ) {
        self.modelType = modelType
        self.key = key
        self.windowSeconds = windowSeconds
        self.count = count
        self.unreadable = unreadable
        self.skipped = skipped
        self.classes = classes
        self.min = min
        self.max = max
        self.mean = mean
        self.p50 = p50
        self.p99 = p99
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", key, windowSeconds = "window_seconds", count, unreadable, skipped, classes
        case min, max, mean, p50, p99
    }
}

/// What an API's replicas cost at the server's prices (``ComputePricing``);
/// ``APIDocument/cost``, absent while no price is set.
public struct CostSummary: Codable, Sendable, Equatable {
    /// Replicas the cost is for: those running now (starting, ready or draining).
    public var replicas: Int
    /// Cost per hour of those replicas' `compute` (cpu, gpu, mem), in the prices' currency.
    public var perHour: Double
    /// ``perHour`` spread over the successful predictions of the traffic window: what 1,000
    /// predictions cost at the current rate; nil without predictions in the window.
    public var per1000Predictions: Double?

    /// Memberwise initialiser.
    public init(replicas: Int, perHour: Double, per1000Predictions: Double?) {
        self.replicas = replicas
        self.perHour = perHour
        self.per1000Predictions = per1000Predictions
    }

    enum CodingKeys: String, CodingKey {
        case replicas, perHour = "per_hour", per1000Predictions = "per_1000_predictions"
    }
}

/// One API's statistics as the gateway reports them to the control plane
/// (``TrafficStatsSource``).
public struct APITrafficStats: Sendable, Equatable {
    /// Requests, latencies and status counts.
    public var traffic: TrafficSummary
    /// Prediction monitoring, when the API has `monitoring`.
    public var predictions: PredictionSummary?

    /// Memberwise initialiser.
    public init(traffic: TrafficSummary, predictions: PredictionSummary?) {
        self.traffic = traffic
        self.predictions = predictions
    }
}

/// Where API documents read the gateway's request statistics (``APIDocument/traffic``,
/// ``APIDocument/predictions``) and per-replica in-flight requests.
///
/// Implemented by TernGateway's `TrafficRecorder` (statistics) and `Gateway` (in-flight); with
/// several gateways (Kubernetes), each would report its own and the control plane would merge.
public protocol TrafficStatsSource: Sendable {
    /// `api`'s statistics now; nil when no request reached it since the server started.
    func stats(api: String) async -> APITrafficStats?
    /// Forgets `api`'s statistics (it was deleted).
    func forget(api: String) async
}

/// Server-wide prices of compute, for ``CostSummary`` (`tern serve --cost-per-cpu-hour`, …).
/// A price not set counts as 0; with none set there is no pricing (nil) and no cost is shown.
public struct ComputePricing: Sendable, Equatable {
    /// Price of one CPU (1000 millicores of `compute.cpu`) for an hour.
    public var cpuHour: Double
    /// Price of one GPU (`compute.gpu`) for an hour.
    public var gpuHour: Double
    /// Price of one GiB (2^30 bytes) of `compute.mem` for an hour.
    public var gibHour: Double

    /// Prices per hour; each defaults to 0.
    public init(cpuHour: Double = 0, gpuHour: Double = 0, gibHour: Double = 0) {
        self.cpuHour = cpuHour
        self.gpuHour = gpuHour
        self.gibHour = gibHour
    }

    /// What one replica with `compute` costs per hour: CPUs × CPU price + GPUs × GPU price +
    /// GiB of `mem` (nothing when unset) × GiB price. E.g. `cpu: 500m, mem: 2Gi` at 0.04 per
    /// CPU-hour and 0.005 per GiB-hour: 0.5 × 0.04 + 2 × 0.005 = 0.03.
    public func perReplicaHour(_ compute: ComputeSpec) -> Double {
        let cpus = Double(compute.cpuMillicores) / 1000
        let gib = Double(compute.memBytes ?? 0) / Double(1 << 30)
        return cpus * cpuHour + Double(compute.gpu) * gpuHour + gib * gibHour
    }

    /// The cost of `replicas` replicas with `compute`, and of 1,000 of the `predictions` they
    /// served in the last `window`: the cost of the window (per hour × window) over its
    /// predictions × 1,000; nil per 1,000 without predictions.
    public func cost(compute: ComputeSpec, replicas: Int, predictions: Int, window: Duration) -> CostSummary {
        let perHour = perReplicaHour(compute) * Double(replicas)
        let windowHours = Double(window.components.seconds) / 3600
        let per1000 = predictions > 0 ? perHour * windowHours / Double(predictions) * 1000 : nil
        return CostSummary(replicas: replicas, perHour: perHour, per1000Predictions: per1000)
    }
}
