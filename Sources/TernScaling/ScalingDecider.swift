import TernCore

/// What the decider recommends at one tick.
public struct ScalingDecision: Sendable, Equatable {
    /// Replicas the API should have now.
    public var desiredReplicas: Int
    /// Average in-flight requests over the window (nil when there were no samples yet).
    public var averageInFlight: Double?
    /// The recommendation before stabilization (after tolerance, factors and bounds).
    public var recommendation: Int

    /// Memberwise initialiser.
    public init(desiredReplicas: Int, averageInFlight: Double?, recommendation: Int) {
        self.desiredReplicas = desiredReplicas
        self.averageInFlight = averageInFlight
        self.recommendation = recommendation
    }
}

/// Cortex's autoscaling algorithm as a pure value: in-flight samples and the current replica
/// count go in, the desired replica count comes out. Time is always passed in (`now`), so
/// tests move it forward without sleeping.
///
/// Per tick (Cortex `pkg/autoscaler/autoscaler.go`, cortexlabs/cortex@dc48c02):
/// 1. `raw = average in-flight over window / target_replica_concurrency`, recommendation =
///    `ceil(raw)`;
/// 2. changes within `downscale_tolerance` / `upscale_tolerance` of the current count are ignored;
/// 3. the recommendation is clamped to `[min(current − 1, ceil(current × max_downscale_factor)),
///    max(current + 1, ceil(current × max_upscale_factor))]` and to `[min_replicas, max_replicas]`;
/// 4. stabilization: a downscale goes no lower than the highest recommendation of the last
///    `downscale_stabilization_period` (and not at all until that long after start); an upscale
///    goes no higher than the lowest of the last `upscale_stabilization_period`;
/// 5. an API woken from zero is not scaled back below one within the downscale period.
///
/// Arithmetic saturates rather than traps, and replicas never exceed
/// ``AutoscalingSpec/replicaLimit``, whatever the spec holds (the parser rejects such specs; a
/// stored one from an older version may still have them).
///
/// One deliberate difference from Cortex: stabilization only ever holds a change back. In
/// Cortex, the upscale ceiling (the lowest recent recommendation) could fall below the current
/// count and turn an upscale into a downscale (and the downscale floor could turn a downscale
/// into an upscale); here both are clamped at the current count.
public struct ScalingDecider<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The API's autoscaling settings.
    public var spec: AutoscalingSpec
    private var startTime: Instant?
    private var samples: [(at: Instant, inFlight: Double)] = []
    /// Sum of `samples`' in-flight values (kept with them by ``record(inFlight:at:)``).
    private var sampleSum = 0.0
    private var recommendations: [(at: Instant, replicas: Int)] = []
    private var lastAwakenAt: Instant?

    /// A decider with no history.
    public init(spec: AutoscalingSpec) {
        self.spec = spec
    }

    private var window: Duration { .milliseconds(spec.windowMs) }
    private var downscalePeriod: Duration { .milliseconds(spec.downscaleStabilizationPeriodMs) }
    private var upscalePeriod: Duration { .milliseconds(spec.upscaleStabilizationPeriodMs) }

    /// Records one in-flight sample (running plus queued requests of the whole API) and drops
    /// the samples that fell out of the window `(now − window, now]`.
    public mutating func record(inFlight: Double, at now: Instant) {
        samples.append((now, inFlight))
        sampleSum += inFlight
        let horizon = now.advanced(by: .zero - window)
        if let firstKept = samples.firstIndex(where: { $0.at > horizon }), firstKept > 0 {
            for dropped in samples[..<firstKept] { sampleSum -= dropped.inFlight }
            samples.removeFirst(firstKept)
        }
    }

    /// Notes that the API was scaled up from zero at `now` (a request arrived).
    public mutating func awaken(at now: Instant) {
        lastAwakenAt = now
    }

    /// The average of the samples taken in `(now − window, now]`, or nil without samples.
    ///
    /// When every kept sample is in that interval (the usual case: `now` is at or after the last
    /// sample, and within the window of the oldest), this is the running sum over the count,
    /// with no pass over the samples: `tern get` asks it for every API (1,000 APIs: ≈ 10 ms of
    /// filtering before, `bench/scale.sh`). The sum is exact for the whole-number counts the
    /// autoscaler records (and for any values with few binary digits, such as 17.5).
    public func averageInFlight(at now: Instant) -> Double? {
        guard let first = samples.first, let last = samples.last else { return nil }
        let horizon = now.advanced(by: .zero - window)
        if first.at > horizon && last.at <= now { return sampleSum / Double(samples.count) }
        let recent = samples.filter { $0.at > horizon && $0.at <= now }
        guard !recent.isEmpty else { return nil }
        return recent.reduce(0) { $0 + $1.inFlight } / Double(recent.count)
    }

    /// Decides the replica count for this tick and remembers the recommendation.
    public mutating func decide(currentReplicas current: Int, at now: Instant) -> ScalingDecision {
        if startTime == nil { startTime = now }
        guard let average = averageInFlight(at: now) else {
            return ScalingDecision(desiredReplicas: current, averageInFlight: nil, recommendation: current)
        }
        // Every conversion saturates: a spec stored by an older version may hold a target near
        // 0 or factors near infinity, and a tick must never trap on them.
        let target = max(spec.targetReplicaConcurrency, AutoscalingSpec.minTargetReplicaConcurrency)
        let raw = average / target
        var recommendation = Int(saturating: raw.rounded(.up))
        let currentValue = Double(current)
        if raw < currentValue && raw > currentValue * (1 - spec.downscaleTolerance) { recommendation = current }
        if raw > currentValue && raw < currentValue * (1 + spec.upscaleTolerance) { recommendation = current }

        let downscaleFloor = min(
            current.addingSaturating(-1), Int(saturating: (currentValue * spec.maxDownscaleFactor).rounded(.up)))
        recommendation = max(recommendation, downscaleFloor)
        let upscaleCeiling = max(
            current.addingSaturating(1), Int(saturating: (currentValue * spec.maxUpscaleFactor).rounded(.up)))
        recommendation = min(recommendation, upscaleCeiling)
        let maxReplicas = min(spec.maxReplicas, AutoscalingSpec.replicaLimit)
        let minReplicas = min(spec.minReplicas, maxReplicas)
        recommendation = min(max(recommendation, minReplicas), maxReplicas)

        recommendations.append((now, recommendation))
        let keep = max(downscalePeriod, upscalePeriod)
        recommendations.removeAll { $0.at.duration(to: now) > keep }

        var desired = recommendation
        let sinceStart = startTime!.duration(to: now)
        if desired < current {
            if sinceStart < downscalePeriod {
                desired = current
            } else if let floor = maxRecommendation(since: now.advanced(by: .zero - downscalePeriod)) {
                desired = min(max(desired, floor), current)
            }
            if let lastAwakenAt, lastAwakenAt.duration(to: now) < downscalePeriod {
                desired = max(desired, 1)
            }
        }
        if desired > current {
            if sinceStart < upscalePeriod {
                desired = current
            } else if let ceiling = minRecommendation(since: now.advanced(by: .zero - upscalePeriod)) {
                desired = max(min(desired, ceiling), current)
            }
        }
        return ScalingDecision(desiredReplicas: desired, averageInFlight: average, recommendation: recommendation)
    }

    private func maxRecommendation(since start: Instant) -> Int? {
        recommendations.filter { $0.at >= start }.map(\.replicas).max()
    }

    private func minRecommendation(since start: Instant) -> Int? {
        recommendations.filter { $0.at >= start }.map(\.replicas).min()
    }
}
