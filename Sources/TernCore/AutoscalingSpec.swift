/// `autoscaling`: how many replicas an API runs, and how fast that number changes.
///
/// The autoscaler averages the API's in-flight requests over ``windowMs``, divides by
/// ``targetReplicaConcurrency`` and moves towards that many replicas, limited by the factors,
/// tolerances and stabilization periods below, within [``minReplicas``, ``maxReplicas``].
public struct AutoscalingSpec: Sendable, Equatable, Codable {
    /// `min_replicas`: 0…1000 (0 scales to zero when idle). Default: 1.
    public var minReplicas: Int
    /// `max_replicas`: 1…1000 and at least `min_replicas`. Default: 100.
    public var maxReplicas: Int
    /// `init_replicas`: replicas at the first deploy, within [min, max]. Default: `min_replicas`.
    public var initReplicas: Int
    /// `target_replica_concurrency`: in-flight requests per replica the autoscaler aims for; at
    /// least 0.01 and at most `max_replica_concurrency`.
    /// Default: `processes_per_replica × threads_per_process`.
    public var targetReplicaConcurrency: Double
    /// `max_replica_concurrency`: in-flight requests per replica (queued ones included) before
    /// the gateway answers 503; 1…65535. Default: 1024.
    public var maxReplicaConcurrency: Int
    /// `window` in ms: how long in-flight counts are averaged over; more than 0, at most 24h. Default: 60 000 (60s).
    public var windowMs: Int64
    /// `downscale_stabilization_period` in ms: scale down no lower than the highest
    /// recommendation in this period; at most 24h. Default: 300 000 (5m).
    public var downscaleStabilizationPeriodMs: Int64
    /// `upscale_stabilization_period` in ms: scale up no higher than the lowest recommendation
    /// in this period; at most 24h. Default: 60 000 (1m).
    public var upscaleStabilizationPeriodMs: Int64
    /// `max_downscale_factor`: one step keeps at least this fraction of the replicas; 0 ≤ x < 1.
    /// Default: 0.75.
    public var maxDownscaleFactor: Double
    /// `max_upscale_factor`: one step multiplies the replicas by at most this; more than 1, at most 100.
    /// Default: 1.5.
    public var maxUpscaleFactor: Double
    /// `downscale_tolerance`: ignore a recommendation less than this fraction below the
    /// current count; 0 ≤ x < 1. Default: 0.05.
    public var downscaleTolerance: Double
    /// `upscale_tolerance`: ignore a recommendation less than this fraction above the current
    /// count; at least 0. Default: 0.05.
    public var upscaleTolerance: Double

    /// The most replicas an API may have (`min_replicas`, `max_replicas`, `init_replicas` and a
    /// `max_surge` count): every replica is a local process group, so more than this would
    /// exhaust one machine long before it served anything.
    public static let replicaLimit = 1_000
    /// The least `target_replica_concurrency`: below it one request would ask for more than
    /// ``replicaLimit`` replicas anyway.
    public static let minTargetReplicaConcurrency = 0.01
    /// The most `max_replica_concurrency` (the gateway's per-replica admission limit).
    public static let maxReplicaConcurrencyLimit = 65_535
    /// The largest `max_upscale_factor`.
    public static let maxUpscaleFactorLimit = 100.0
    /// The largest `upscale_tolerance`.
    public static let maxUpscaleToleranceLimit = 10.0
    /// The longest `window` and stabilization period, in ms (24h).
    public static let maxPeriodMs: Int64 = 86_400_000

    /// Creates autoscaling settings with Cortex's defaults; `initReplicas` defaults to
    /// `minReplicas`.
    public init(
        minReplicas: Int = 1,
        maxReplicas: Int = 100,
        initReplicas: Int? = nil,
        targetReplicaConcurrency: Double = 1,
        maxReplicaConcurrency: Int = 1024,
        windowMs: Int64 = 60_000,
        downscaleStabilizationPeriodMs: Int64 = 300_000,
        upscaleStabilizationPeriodMs: Int64 = 60_000,
        maxDownscaleFactor: Double = 0.75,
        maxUpscaleFactor: Double = 1.5,
        downscaleTolerance: Double = 0.05,
        upscaleTolerance: Double = 0.05
    ) {
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.initReplicas = initReplicas ?? minReplicas
        self.targetReplicaConcurrency = targetReplicaConcurrency
        self.maxReplicaConcurrency = maxReplicaConcurrency
        self.windowMs = windowMs
        self.downscaleStabilizationPeriodMs = downscaleStabilizationPeriodMs
        self.upscaleStabilizationPeriodMs = upscaleStabilizationPeriodMs
        self.maxDownscaleFactor = maxDownscaleFactor
        self.maxUpscaleFactor = maxUpscaleFactor
        self.downscaleTolerance = downscaleTolerance
        self.upscaleTolerance = upscaleTolerance
    }

    /// Decodes a stored spec and clamps it into the bounds the parser enforces (see
    /// ``clamped()``), so a spec stored by an older version that accepted, say,
    /// `min_replicas: 1000000000000000000` cannot make the server trap or hang at start-up.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            minReplicas: try container.decode(Int.self, forKey: .minReplicas),
            maxReplicas: try container.decode(Int.self, forKey: .maxReplicas),
            initReplicas: try container.decode(Int.self, forKey: .initReplicas),
            targetReplicaConcurrency: try container.decode(Double.self, forKey: .targetReplicaConcurrency),
            maxReplicaConcurrency: try container.decode(Int.self, forKey: .maxReplicaConcurrency),
            windowMs: try container.decode(Int64.self, forKey: .windowMs),
            downscaleStabilizationPeriodMs: try container.decode(Int64.self, forKey: .downscaleStabilizationPeriodMs),
            upscaleStabilizationPeriodMs: try container.decode(Int64.self, forKey: .upscaleStabilizationPeriodMs),
            maxDownscaleFactor: try container.decode(Double.self, forKey: .maxDownscaleFactor),
            maxUpscaleFactor: try container.decode(Double.self, forKey: .maxUpscaleFactor),
            downscaleTolerance: try container.decode(Double.self, forKey: .downscaleTolerance),
            upscaleTolerance: try container.decode(Double.self, forKey: .upscaleTolerance))
        self = clamped()
    }

    /// These settings with every value moved into the range the parser allows (replicas
    /// 0…``replicaLimit``, `max_replicas` ≥ 1, min ≤ init ≤ max, target
    /// ``minTargetReplicaConcurrency``…`max_replica_concurrency`, factors, tolerances and periods
    /// within their bounds). A parsed spec is returned unchanged.
    public func clamped() -> AutoscalingSpec {
        func clamp<T: Comparable>(_ value: T, _ lower: T, _ upper: T) -> T { Swift.min(Swift.max(value, lower), upper) }
        func clamp(_ value: Double, _ lower: Double, _ upper: Double, default fallback: Double) -> Double {
            value.isNaN ? fallback : clamp(value, lower, upper)
        }
        var spec = self
        spec.maxReplicas = clamp(maxReplicas, 1, Self.replicaLimit)
        spec.minReplicas = clamp(minReplicas, 0, spec.maxReplicas)
        spec.initReplicas = clamp(initReplicas, spec.minReplicas, spec.maxReplicas)
        spec.maxReplicaConcurrency = clamp(maxReplicaConcurrency, 1, Self.maxReplicaConcurrencyLimit)
        spec.targetReplicaConcurrency = clamp(
            targetReplicaConcurrency, Self.minTargetReplicaConcurrency, Double(spec.maxReplicaConcurrency), default: 1)
        spec.windowMs = clamp(windowMs, 1, Self.maxPeriodMs)
        spec.downscaleStabilizationPeriodMs = clamp(downscaleStabilizationPeriodMs, 0, Self.maxPeriodMs)
        spec.upscaleStabilizationPeriodMs = clamp(upscaleStabilizationPeriodMs, 0, Self.maxPeriodMs)
        spec.maxDownscaleFactor = clamp(maxDownscaleFactor, 0, 1.0.nextDown, default: 0.75)
        spec.maxUpscaleFactor = clamp(maxUpscaleFactor, 1.0.nextUp, Self.maxUpscaleFactorLimit, default: 1.5)
        spec.downscaleTolerance = clamp(downscaleTolerance, 0, 1.0.nextDown, default: 0.05)
        spec.upscaleTolerance = clamp(upscaleTolerance, 0, Self.maxUpscaleToleranceLimit, default: 0.05)
        return spec
    }
}
