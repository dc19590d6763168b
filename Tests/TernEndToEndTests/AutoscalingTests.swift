import Foundation
import Testing
import TernCore
import TernTesting

/// An autoscaled `slow` API with windows short enough for a test (the server decides every second).
private func autoscaledYAML(name: String, maxReplicas: Int, target: Int) -> String {
    SpecYAML.realtime(
        name: name, minReplicas: 1, maxReplicas: maxReplicas,
        autoscaling: [
            "target_replica_concurrency": "\(target)", "window": "2s", "upscale_stabilization_period": "1s",
            "downscale_stabilization_period": "3s",
        ])
}

/// Requested and ready replicas as `tern get -o json` reports them.
private struct ReplicaCounts: Sendable, Equatable {
    var requested: Int
    var ready: Int
}

extension EndToEnd {
    /// The autoscaler with real replicas: `tern serve --autoscaler-tick-seconds 1`.
    @Suite(.serialized, .sharedServer("--autoscaler-tick-seconds", "1"))
    struct Autoscaling {
        /// Runs `clients` closed-loop clients of 0.5 s predictions against `name` until the API has
        /// `expected` requested and ready replicas for 2 s, then stops them; checks the replica
        /// counts never went above `expected`, and that the API scales back to 1 afterwards.
        private func scale(name: String, clients: Int, expected: Int, server: TestServer) async throws {
            try await server.waitUntilLive(name)
            let start = ContinuousClock.now
            let counts = Sampler(every: .milliseconds(250)) {
                let api = try await apiInBackground(server, name)
                return ReplicaCounts(requested: api.requestedReplicas, ready: api.readyReplicas)
            }
            let load = LoadGenerator(url: server.gatewayURL + "/" + name, clients: clients, body: sleepBody(0.5))

            var reachedAt: ContinuousClock.Instant?
            do {
                try await server.waitUntil(timeout: 30, "\(name) to scale up to \(expected) ready replicas") {
                    let api = try await apiInBackground(server, name)
                    return api.requestedReplicas == expected && api.readyReplicas == expected
                }
                reachedAt = .now
                // It stays there while the load lasts.
                try await Task.sleep(for: .seconds(2))
            } catch {
                Issue.record(error)
            }
            let responses = await load.stop()
            let stoppedAt = ContinuousClock.now
            let held = try await apiInBackground(server, name)
            var settledAt: ContinuousClock.Instant?
            do {
                try await server.waitUntil(timeout: 30, "\(name) to scale back down to 1 replica") {
                    let api = try await apiInBackground(server, name)
                    return api.requestedReplicas == 1 && api.readyReplicas == 1 && api.replicas.count == 1
                }
                settledAt = .now
            } catch {
                Issue.record(error)
            }
            let samples = await counts.stop().map(\.value)

            print(
                "[autoscaling] \(name): \(clients) clients → \(expected) replicas after "
                    + (reachedAt.map { String(format: "%.1f s", seconds(from: start, to: $0)) } ?? "never")
                    + "; back to 1 replica "
                    + (settledAt.map { String(format: "%.1f s", seconds(from: stoppedAt, to: $0)) } ?? "never")
                    + " after the load stopped; requested over time: \(samples.map(\.requested))")
            #expect(held.requestedReplicas == expected, "the API did not hold \(expected) replicas under steady load")
            #expect(failures(in: responses).isEmpty, "failed requests: \(failures(in: responses).prefix(5))")
            #expect(responses.count >= clients * 2, "only \(responses.count) answers")
            let most = samples.map(\.requested).max() ?? 0
            #expect(most == expected, "requested replicas went to \(most); expected at most \(expected)")
            #expect(samples.allSatisfy { $0.ready <= $0.requested + 1 }, "\(samples)")
        }

        @Test("4 clients with target_replica_concurrency 2 scale a slow API to ceil(4 / 2) = 2 replicas, never more, then back to 1")
        func scalesToInFlightOverTarget() async throws {
            let server = try Shared.require()
            try await deployExpectingSuccess(
                autoscaledYAML(name: "per-target", maxReplicas: 6, target: 2), predictorOf: "slow", on: server)
            try await scale(name: "per-target", clients: 4, expected: 2, server: server)
        }

        @Test("8 clients scale a slow API up to max_replicas 3 (not ceil(8 / 1) = 8), then back to 1 after the load stops")
        func upscaleIsBoundedByMaxReplicas() async throws {
            let server = try Shared.require()
            try await deployExpectingSuccess(
                autoscaledYAML(name: "capped", maxReplicas: 3, target: 1), predictorOf: "slow", on: server)
            try await scale(name: "capped", clients: 8, expected: 3, server: server)
        }
    }
}
