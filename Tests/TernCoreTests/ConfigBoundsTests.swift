import Foundation
import TernCore
import Testing

/// Every numeric key has an upper bound; values just inside load, values just outside are
/// refused with the allowed range; values too large for their type say "out of range".
@Suite struct ConfigBoundsTests {
    /// A RealtimeAPI `iris` with `predictor` and the `extra` lines (indented by 2), as a full file.
    private func api(_ extra: String, predictor: String = "{type: python, path: p.py}") -> String {
        realtimeAPI("iris", predictor: predictor, extra)
    }

    @Test(arguments: [
        // extra lines, expected issue (nil: loads)
        ("  autoscaling: {min_replicas: 1000, max_replicas: 1000}", nil),
        (
            "  autoscaling: {min_replicas: 1001, max_replicas: 1000}",
            "autoscaling.min_replicas: must be between 0 and 1000 (got 1001)"
        ),
        ("  autoscaling: {max_replicas: 1001}", "autoscaling.max_replicas: must be between 1 and 1000 (got 1001)"),
        (
            "  autoscaling: {init_replicas: 1001, max_replicas: 1000}",
            "autoscaling.init_replicas: must be between 0 and 1000 (got 1001)"
        ),
        (
            "  autoscaling: {min_replicas: 1000000000000000000}",
            "autoscaling.min_replicas: must be between 0 and 1000 (got 1000000000000000000)"
        ),
        ("  autoscaling: {min_replicas: 100000}", "autoscaling.min_replicas: must be between 0 and 1000 (got 100000)"),
        ("  autoscaling: {target_replica_concurrency: 0.01}", nil),
        (
            "  autoscaling: {target_replica_concurrency: 0.009}",
            "autoscaling.target_replica_concurrency: must be between 0.01 and 65535 (got 0.009)"
        ),
        (
            "  autoscaling: {target_replica_concurrency: 1e-300, max_replicas: 2}",
            "autoscaling.target_replica_concurrency: must be between 0.01 and 65535 (got 1e-300)"
        ),
        ("  autoscaling: {max_upscale_factor: 100}", nil),
        (
            "  autoscaling: {max_upscale_factor: 100.5}",
            "autoscaling.max_upscale_factor: must be greater than 1 and at most 100 (got 100.5)"
        ),
        (
            "  autoscaling: {max_upscale_factor: 1e300}",
            "autoscaling.max_upscale_factor: must be greater than 1 and at most 100 (got 1e+300)"
        ),
        (
            "  autoscaling: {max_upscale_factor: 1e400}",
            "autoscaling.max_upscale_factor: 1e400 is out of range (must be greater than 1 and at most 100)"
        ),
        ("  autoscaling: {upscale_tolerance: 10}", nil),
        ("  autoscaling: {upscale_tolerance: 10.1}", "autoscaling.upscale_tolerance: must be between 0 and 10 (got 10.1)"),
        ("  autoscaling: {window: 24h, downscale_stabilization_period: 24h, upscale_stabilization_period: 24h}", nil),
        ("  autoscaling: {window: 25h}", "autoscaling.window: must be greater than 0s and at most 24h (got 25h)"),
        (
            "  autoscaling: {downscale_stabilization_period: 1441m}",
            "autoscaling.downscale_stabilization_period: must be between 0s and 24h (got 1441m)"
        ),
        (
            "  autoscaling: {window: 9999999999999h}",
            #"autoscaling.window: "9999999999999h" is too long (must be greater than 0s and at most 24h)"#
        ),
        ("  networking: {request_timeout: 24h}", nil),
        ("  networking: {request_timeout: 25h}", "networking.request_timeout: must be greater than 0s and at most 24h (got 25h)"),
        ("  compute: {cpu: 1024, gpu: 64, mem: 1Pi}", nil),
        ("  compute: {cpu: 1025}", "compute.cpu: must be between 20m and 1024 (got 1025)"),
        ("  compute: {gpu: 65}", "compute.gpu: must be between 0 and 64 (got 65)"),
        ("  compute: {mem: 2Pi}", "compute.mem: must be between 20Mi and 1Pi (got 2Pi)"),
        ("  update_strategy: {max_surge: 1000}", nil),
        (
            "  update_strategy: {max_surge: 1001}",
            #"update_strategy.max_surge: "1001" is out of range: a count must be between 0 and 1000, the most replicas an API can have"#
        ),
        (
            "  update_strategy: {max_unavailable: 99999999999999999999999}",
            #"update_strategy.max_unavailable: "99999999999999999999999" is out of range: give a count between 0 and 1000 or a percentage between 0% and 100%"#
        ),
    ] as [(String, String?)])
    func autoscalingAndOtherBounds(extra: String, expected: String?) {
        let issues = configIssues(api(extra))
        if let expected {
            #expect(issues == ["tern.yaml:4: api \"iris\": " + expected])
        } else {
            #expect(issues == [])
        }
    }

    @Test func predictorBounds() {
        let batching = { (size: String, interval: String) in
            "{type: python, path: p.py, server_side_batching: {max_batch_size: \(size), batch_interval: \(interval)}}"
        }
        #expect(configIssues(api("  autoscaling: {max_replica_concurrency: 65535}", predictor: batching("65535", "1h"))) == [])
        #expect(
            configIssues(api("", predictor: batching("65536", "1h"))) == [
                #"tern.yaml:3: api "iris": predictor.server_side_batching.max_batch_size: must be between 1 and 65535 (got 65536)"#
            ])
        #expect(
            configIssues(api("", predictor: batching("4", "61m"))) == [
                #"tern.yaml:3: api "iris": predictor.server_side_batching.batch_interval: must be greater than 0s and at most 1h (got 61m)"#
            ])
    }

    /// Bug 9: a value too large for its type names the allowed range instead of
    /// "expected an integer, got integer …".
    @Test func valuesTooLargeForTheirTypeAreOutOfRange() {
        #expect(
            configIssues(api("", predictor: "{type: python, path: p.py, threads_per_process: 99999999999999999999999}"))
                == [
                    #"tern.yaml:3: api "iris": predictor.threads_per_process: 99999999999999999999999 is out of range (must be between 1 and 1024)"#
                ])
        #expect(
            configIssues(api("  autoscaling: {max_upscale_factor: .inf}")) == [
                #"tern.yaml:4: api "iris": autoscaling.max_upscale_factor: .inf is out of range (must be greater than 1 and at most 100)"#
            ])
        #expect(
            configIssues(api("  autoscaling: {min_replicas: -99999999999999999999999}")) == [
                #"tern.yaml:4: api "iris": autoscaling.min_replicas: -99999999999999999999999 is out of range (must be between 0 and 1000)"#
            ])
    }

    /// C4: a failing `batch_interval` does not hide `max_batch_size` above `max_replica_concurrency`.
    @Test func everyProblemOfTheBatchingSectionIsReported() {
        let yaml = api(
            "  autoscaling: {max_replica_concurrency: 1024}",
            predictor: "{type: python, path: p.py, server_side_batching: {max_batch_size: 2000, batch_interval: 0s}}")
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:3: api "iris": predictor.server_side_batching.batch_interval: must be greater than 0s and at most 1h (got 0s)"#,
                #"tern.yaml:3: api "iris": predictor.server_side_batching.max_batch_size: 2000 must not exceed autoscaling.max_replica_concurrency (1024): a batch is sent to one replica"#,
            ])
    }

    /// C5: never suggest raising max_replica_concurrency above its maximum.
    @Test func defaultTargetAboveTheConcurrencyMaximumSuggestsLoweringSlots() {
        let yaml = api("", predictor: "{type: python, path: p.py, processes_per_replica: 64, threads_per_process: 1024}")
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:3: api "iris": autoscaling.max_replica_concurrency: 1024 is less than autoscaling.target_replica_concurrency, which defaults to predictor.processes_per_replica × predictor.threads_per_process (65536); lower predictor.processes_per_replica or predictor.threads_per_process (autoscaling.max_replica_concurrency is at most 65535) or set target_replica_concurrency"#
            ])
    }

    /// A spec stored by an older version with absurd values decodes clamped into the bounds.
    @Test func storedSpecsAreClampedWhenDecoded() throws {
        let json = """
            {"minReplicas": 1000000000000000000, "maxReplicas": 1000000000000000000,
             "initReplicas": 1000000000000000000, "targetReplicaConcurrency": 1e-300,
             "maxReplicaConcurrency": 1024, "windowMs": 60000, "downscaleStabilizationPeriodMs": 300000,
             "upscaleStabilizationPeriodMs": 60000, "maxDownscaleFactor": 0.75, "maxUpscaleFactor": 1e300,
             "downscaleTolerance": 0.05, "upscaleTolerance": 0.05}
            """
        let spec = try JSONDecoder().decode(AutoscalingSpec.self, from: Data(json.utf8))
        #expect(spec.minReplicas == 1000)
        #expect(spec.maxReplicas == 1000)
        #expect(spec.initReplicas == 1000)
        #expect(spec.targetReplicaConcurrency == 0.01)
        #expect(spec.maxUpscaleFactor == 100)
        let defaults = AutoscalingSpec()
        #expect(try JSONDecoder().decode(AutoscalingSpec.self, from: JSONEncoder().encode(defaults)) == defaults)
    }

    /// Bug 1: resolving a percentage of an absurd replica count saturates instead of trapping.
    @Test func replicaCountResolveNeverTraps() {
        let quintillion = 1_000_000_000_000_000_000
        #expect(ReplicaCount.percent(25).resolve(replicas: quintillion, roundUp: true) == 250_000_000_000_000_000)
        #expect(ReplicaCount.percent(100).resolve(replicas: .max, roundUp: true) > 0)
        #expect(ReplicaCount.percent(25).resolve(replicas: 3, roundUp: true) == 1)
        #expect(ReplicaCount.percent(25).resolve(replicas: 3, roundUp: false) == 0)
        #expect(ReplicaCount.percent(1000).resolve(replicas: 10, roundUp: false) == 10)
        let resolved = UpdateStrategySpec().resolve(replicas: 1_000_000_000_000_000_000)
        #expect(resolved.maxSurge == 250_000_000_000_000_000)
    }

    @Test func saturatingConversions() {
        #expect(Int(saturating: 2.7) == 2)
        #expect(Int(saturating: 1e300) == .max)
        #expect(Int(saturating: -1e300) == .min)
        #expect(Int(saturating: .infinity) == .max)
        #expect(Int(saturating: .nan) == 0)
        #expect(Int.max.multipliedSaturating(by: 2) == .max)
        #expect(Int.max.multipliedSaturating(by: -2) == .min)
        #expect(Int.max.addingSaturating(1) == .max)
    }
}
