/// `autoscaling`: how many replicas an API runs, and how fast that number changes.
///
/// The autoscaler averages the API's in-flight requests over ``windowMs``, divides by
/// ``targetReplicaConcurrency`` and moves towards that many replicas, limited by the factors,
/// tolerances and stabilization periods below, within [``minReplicas``, ``maxReplicas``].
public struct AutoscalingSpec: Sendable, Equatable, Codable {
    /// `min_replicas`: at least 0 (0 scales to zero when idle). Default: 1.
    public var minReplicas: Int
    /// `max_replicas`: at least 1 and at least `min_replicas`. Default: 100.
    public var maxReplicas: Int
    /// `init_replicas`: replicas at the first deploy, within [min, max]. Default: `min_replicas`.
    public var initReplicas: Int
    /// `target_replica_concurrency`: in-flight requests per replica the autoscaler aims for; more
    /// than 0 and at most `max_replica_concurrency`.
    /// Default: `processes_per_replica × threads_per_process`.
    public var targetReplicaConcurrency: Double
    /// `max_replica_concurrency`: in-flight requests per replica (queued ones included) before
    /// the gateway answers 503; 1…65535. Default: 1024.
    public var maxReplicaConcurrency: Int
    /// `window` in ms: how long in-flight counts are averaged over; more than 0. Default: 60 000 (60s).
    public var windowMs: Int64
    /// `downscale_stabilization_period` in ms: scale down no lower than the highest
    /// recommendation in this period. Default: 300 000 (5m).
    public var downscaleStabilizationPeriodMs: Int64
    /// `upscale_stabilization_period` in ms: scale up no higher than the lowest recommendation
    /// in this period. Default: 60 000 (1m).
    public var upscaleStabilizationPeriodMs: Int64
    /// `max_downscale_factor`: one step keeps at least this fraction of the replicas; 0 ≤ x < 1.
    /// Default: 0.75.
    public var maxDownscaleFactor: Double
    /// `max_upscale_factor`: one step multiplies the replicas by at most this; more than 1.
    /// Default: 1.5.
    public var maxUpscaleFactor: Double
    /// `downscale_tolerance`: ignore a recommendation less than this fraction below the
    /// current count; 0 ≤ x < 1. Default: 0.05.
    public var downscaleTolerance: Double
    /// `upscale_tolerance`: ignore a recommendation less than this fraction above the current
    /// count; at least 0. Default: 0.05.
    public var upscaleTolerance: Double

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
}
