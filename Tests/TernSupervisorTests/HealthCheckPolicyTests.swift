import TernCore
import Testing

@testable import TernSupervisor

@Suite struct HealthCheckPolicyTests {
    @Test func defaultsAreDocumented() {
        let policy = HealthCheckPolicy()
        #expect(policy.startupTimeout == .seconds(300))
        #expect(policy.healthInterval == .seconds(5))
        #expect(policy.healthTimeout == .seconds(5))
        #expect(policy.failureThreshold == 3)
    }

    @Test func localBackendUsesTheDefaultPolicy() {
        let configuration = LocalBackendConfiguration(runtimePath: "/r", runDirectory: "/run", logDirectory: "/logs")
        #expect(configuration.healthChecks == HealthCheckPolicy())
    }

    @Test(arguments: [0, -1])
    func thresholdIsAtLeastOne(threshold: Int) {
        #expect(HealthCheckPolicy(failureThreshold: threshold).failureThreshold == 1)
    }

    @Test func livenessKillsOnlyAfterThresholdFailuresInARow() {
        var liveness = HealthCheckPolicy.Liveness(threshold: 3)
        // A success in between resets the count: only 3 failures in a row kill.
        let probes = [false, false, true, false, false, false]
        let kills = probes.map { liveness.record(healthy: $0) }
        #expect(kills == [false, false, false, false, false, true])
        #expect(liveness.consecutiveFailures == 3)
    }

    @Test func healthyProbesNeverKill() {
        var liveness = HealthCheckPolicy.Liveness(threshold: 1)
        let kills = (0..<100).map { _ in liveness.record(healthy: true) }
        #expect(!kills.contains(true))
        let afterFailure = liveness.record(healthy: false)
        #expect(afterFailure)
    }
}
