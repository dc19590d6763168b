import Testing
import TernCore

@testable import TernScaling

/// Time is passed in, never read: `at(n)` is n seconds after an arbitrary start.
private let start = ContinuousClock.now
private func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int64(seconds * 1000)) }

/// A decider with stabilization off (0 s periods) unless a test sets it, target 1 in-flight per replica.
private func decider(
    min: Int = 1, max: Int = 1000, upscaleFactor: Double = 1000, downscaleFactor: Double = 0,
    upscaleTolerance: Double = 0, downscaleTolerance: Double = 0, downscalePeriod: Int64 = 0, upscalePeriod: Int64 = 0,
    window: Int64 = 10_000
) -> ScalingDecider<ContinuousClock.Instant> {
    ScalingDecider(
        spec: AutoscalingSpec(
            minReplicas: min, maxReplicas: max, targetReplicaConcurrency: 1, windowMs: window,
            downscaleStabilizationPeriodMs: downscalePeriod, upscaleStabilizationPeriodMs: upscalePeriod,
            maxDownscaleFactor: downscaleFactor, maxUpscaleFactor: upscaleFactor,
            downscaleTolerance: downscaleTolerance, upscaleTolerance: upscaleTolerance))
}

@Suite struct ScalingDeciderTests {
    @Test func recommendationIsCeilingOfAverageInFlightOverTarget() {
        var d = decider()
        for second in 0..<10 { d.record(inFlight: second.isMultiple(of: 2) ? 6 : 7, at: at(Double(second))) }
        let decision = d.decide(currentReplicas: 1, at: at(9.5))
        #expect(decision.averageInFlight == 6.5)
        #expect(decision.desiredReplicas == 7)
    }

    @Test func onlySamplesInsideTheWindowCount() {
        var d = decider(window: 5_000)
        d.record(inFlight: 100, at: at(0))
        d.record(inFlight: 2, at: at(6))
        d.record(inFlight: 4, at: at(8))
        #expect(d.averageInFlight(at: at(9)) == 3)
    }

    /// The running sum (no pass over the samples) gives the same averages as filtering the
    /// window: after the window slid over many samples, with a `now` past the oldest sample's
    /// window (the filtering path), before the newest sample, and after everything expired.
    @Test func averageFollowsTheSlidingWindow() {
        var d = decider(window: 5_000)
        // Samples 0, 1, …, 99 at seconds 0…99: the window (now − 5 s, now] keeps the last five.
        for second in 0..<100 { d.record(inFlight: Double(second), at: at(Double(second))) }
        #expect(d.averageInFlight(at: at(99)) == 97)  // (95 + 96 + 97 + 98 + 99) / 5
        #expect(d.averageInFlight(at: at(99.5)) == 97)
        #expect(d.averageInFlight(at: at(101)) == 98)  // 97, 98, 99: 95 and 96 fell out
        #expect(d.averageInFlight(at: at(98)) == 96.5)  // 95 … 98: the sample at 99 is after now
        #expect(d.averageInFlight(at: at(104)) == nil)  // every sample is older than the window
        d.record(inFlight: 17.5, at: at(110))
        #expect(d.averageInFlight(at: at(110)) == 17.5)  // the dropped samples left nothing in the sum
        d.record(inFlight: 0.25, at: at(111))
        #expect(d.averageInFlight(at: at(111)) == 8.875)
    }

    @Test func noSamplesKeepsTheCurrentCount() {
        var d = decider()
        #expect(d.decide(currentReplicas: 3, at: at(0)).desiredReplicas == 3)
    }

    // Cortex docs: with a tolerance of 0.1 at 20 replicas, recommendations from 18 to 22 are ignored.
    @Test(arguments: [18.1, 19.0, 20.0, 21.0, 21.9])
    func toleranceIgnoresSmallChanges(average: Double) {
        var d = decider(upscaleTolerance: 0.1, downscaleTolerance: 0.1)
        d.record(inFlight: average, at: at(0))
        #expect(d.decide(currentReplicas: 20, at: at(1)).desiredReplicas == 20)
    }

    @Test func changesBeyondToleranceAreApplied() {
        var down = decider(upscaleTolerance: 0.1, downscaleTolerance: 0.1)
        down.record(inFlight: 17.5, at: at(0))
        #expect(down.decide(currentReplicas: 20, at: at(1)).desiredReplicas == 18)
        var up = decider(upscaleTolerance: 0.1, downscaleTolerance: 0.1)
        up.record(inFlight: 22.5, at: at(0))
        #expect(up.decide(currentReplicas: 20, at: at(1)).desiredReplicas == 23)
    }

    // Cortex docs: max_upscale_factor 10 at 5 replicas caps the next step at 50.
    @Test func maxUpscaleFactorCapsTheStep() {
        var d = decider(upscaleFactor: 10)
        d.record(inFlight: 400, at: at(0))
        #expect(d.decide(currentReplicas: 5, at: at(1)).desiredReplicas == 50)
    }

    // Cortex docs: max_downscale_factor 0.5 at 10 replicas floors the next step at 5.
    @Test func maxDownscaleFactorFloorsTheStep() {
        var d = decider(downscaleFactor: 0.5)
        d.record(inFlight: 1, at: at(0))
        #expect(d.decide(currentReplicas: 10, at: at(1)).desiredReplicas == 5)
    }

    @Test func oneReplicaStepIsAlwaysAllowed() {
        var up = decider(upscaleFactor: 1.01)
        up.record(inFlight: 10, at: at(0))
        #expect(up.decide(currentReplicas: 2, at: at(1)).desiredReplicas == 3)
        var down = decider(downscaleFactor: 0.99)
        down.record(inFlight: 0, at: at(0))
        #expect(down.decide(currentReplicas: 2, at: at(1)).desiredReplicas == 1)
    }

    @Test func boundsClampTheRecommendation() {
        var high = decider(min: 1, max: 4)
        high.record(inFlight: 100, at: at(0))
        #expect(high.decide(currentReplicas: 2, at: at(1)).desiredReplicas == 4)
        var low = decider(min: 2, max: 4)
        low.record(inFlight: 0, at: at(0))
        #expect(low.decide(currentReplicas: 3, at: at(1)).desiredReplicas == 2)
    }

    @Test func scaleDownWaitsForStabilizationWindow() {
        var d = decider(downscalePeriod: 60_000)
        // Start: no downscale at all during the first period.
        d.record(inFlight: 8, at: at(0))
        #expect(d.decide(currentReplicas: 8, at: at(0)).desiredReplicas == 8)
        d.record(inFlight: 1, at: at(30))
        #expect(d.decide(currentReplicas: 8, at: at(30)).desiredReplicas == 8)
        // After the period, the floor is the highest recommendation within it (8 at t=0 left it).
        d.record(inFlight: 1, at: at(61))
        #expect(d.decide(currentReplicas: 8, at: at(61)).desiredReplicas == 1)
    }

    @Test func scaleDownKeepsTheHighestRecentRecommendation() {
        var d = decider(downscalePeriod: 60_000, window: 1_000)
        d.record(inFlight: 1, at: at(0))
        _ = d.decide(currentReplicas: 1, at: at(0))
        d.record(inFlight: 6, at: at(70))
        #expect(d.decide(currentReplicas: 1, at: at(70)).desiredReplicas == 6)
        d.record(inFlight: 2, at: at(80))
        // 6 was recommended 10 s ago, inside the 60 s period: stay at 6.
        #expect(d.decide(currentReplicas: 6, at: at(80)).desiredReplicas == 6)
        d.record(inFlight: 2, at: at(131))
        #expect(d.decide(currentReplicas: 6, at: at(131)).desiredReplicas == 2)
    }

    @Test func scaleUpKeepsTheLowestRecentRecommendation() {
        var d = decider(upscalePeriod: 60_000, window: 1_000)
        d.record(inFlight: 1, at: at(0))
        _ = d.decide(currentReplicas: 1, at: at(0))
        // Inside the first period no upscale happens.
        d.record(inFlight: 9, at: at(30))
        #expect(d.decide(currentReplicas: 1, at: at(30)).desiredReplicas == 1)
        // At 61 s the lowest recommendation of the last 60 s is 9 (the 1 at t=0 left the period).
        d.record(inFlight: 9, at: at(61))
        #expect(d.decide(currentReplicas: 1, at: at(61)).desiredReplicas == 9)
        d.record(inFlight: 3, at: at(62))
        _ = d.decide(currentReplicas: 9, at: at(62))
        d.record(inFlight: 20, at: at(63))
        // 3 was recommended 1 s ago: an upscale goes no higher than 3, which is below the current 9;
        // stabilization only holds changes back (unlike Cortex), so the count stays at 9.
        #expect(d.decide(currentReplicas: 9, at: at(63)).desiredReplicas == 9)
    }

    @Test func scalesToZeroOnlyAfterTheDownscalePeriod() {
        var d = decider(min: 0, downscalePeriod: 5_000, window: 1_000)
        d.record(inFlight: 0, at: at(0))
        #expect(d.decide(currentReplicas: 1, at: at(0)).desiredReplicas == 1)
        d.record(inFlight: 0, at: at(4))
        #expect(d.decide(currentReplicas: 1, at: at(4)).desiredReplicas == 1)
        d.record(inFlight: 0, at: at(6))
        #expect(d.decide(currentReplicas: 1, at: at(6)).desiredReplicas == 0)
    }

    @Test func anAwakenedAPIStaysAtOneForTheDownscalePeriod() {
        var d = decider(min: 0, downscalePeriod: 5_000, window: 1_000)
        d.record(inFlight: 0, at: at(0))
        _ = d.decide(currentReplicas: 0, at: at(0))
        d.awaken(at: at(10))
        d.record(inFlight: 0, at: at(12))
        #expect(d.decide(currentReplicas: 1, at: at(12)).desiredReplicas == 1)
        d.record(inFlight: 0, at: at(16))
        #expect(d.decide(currentReplicas: 1, at: at(16)).desiredReplicas == 0)
    }
}

/// Specs an older version accepted (or built in code) never make a tick trap.
@Suite struct ScalingDeciderSafetyTests {
    /// Bug 2: `max_upscale_factor: 1e300` trapped converting `current × factor` to Int.
    @Test func hugeUpscaleFactorDoesNotTrap() {
        var d = ScalingDecider<ContinuousClock.Instant>(
            spec: AutoscalingSpec(
                maxReplicas: 100, targetReplicaConcurrency: 1, upscaleStabilizationPeriodMs: 0,
                maxUpscaleFactor: 1e300))
        d.record(inFlight: 50, at: at(0))
        #expect(d.decide(currentReplicas: 1, at: at(1)).desiredReplicas == 50)
    }

    /// Bug 3: `target_replica_concurrency: 1e-300` made `average / target` overflow Int.
    @Test func tinyTargetDoesNotTrap() {
        var d = ScalingDecider<ContinuousClock.Instant>(
            spec: AutoscalingSpec(
                maxReplicas: 2, targetReplicaConcurrency: 1e-300, upscaleStabilizationPeriodMs: 0,
                maxUpscaleFactor: 1.5))
        d.record(inFlight: 1, at: at(0))
        #expect(d.decide(currentReplicas: 1, at: at(1)).desiredReplicas == 2)
        var zero = ScalingDecider<ContinuousClock.Instant>(
            spec: AutoscalingSpec(maxReplicas: 2, targetReplicaConcurrency: 0, upscaleStabilizationPeriodMs: 0))
        zero.record(inFlight: 1, at: at(0))
        #expect(zero.decide(currentReplicas: 1, at: at(1)).desiredReplicas == 2)
    }

    /// Bug 1/4: absurd replica bounds are capped at the replica limit.
    @Test func hugeReplicaBoundsAreCapped() {
        var d = ScalingDecider<ContinuousClock.Instant>(
            spec: AutoscalingSpec(
                minReplicas: 1_000_000_000_000_000_000, maxReplicas: 1_000_000_000_000_000_000,
                targetReplicaConcurrency: 1, upscaleStabilizationPeriodMs: 0, maxUpscaleFactor: 1e300))
        d.record(inFlight: 1, at: at(0))
        #expect(d.decide(currentReplicas: .max, at: at(1)).recommendation == AutoscalingSpec.replicaLimit)
    }
}
