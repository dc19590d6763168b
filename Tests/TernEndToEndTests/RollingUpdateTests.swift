import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// Fixture `version` as API `name` with 2 replicas, answering `version`.
private func versionYAML(
    name: String, version: String, maxSurge: Int = 1, maxUnavailable: Int = 0, extraConfig: SpecYAML.Mapping = [:]
) -> String {
    SpecYAML.realtime(
        name: name, config: ["version": "\(version)"] + extraConfig, minReplicas: 2, maxReplicas: 2,
        updateStrategy: ["max_surge": "\(maxSurge)", "max_unavailable": "\(maxUnavailable)"])
}

extension EndToEnd {
    /// Rolling updates under load (C13, C09 c): no failed request, the old revision serves until
    /// the new one is ready, `update_strategy` bounds hold, a failing revision never takes the
    /// serving one down.
    @Suite(.serialized, .sharedServer())
    struct RollingUpdate {
        private let empty = Data("{}".utf8)

        @Test("redeploying v2 under continuous load from 4 clients: zero failed requests; every request sent after deploy returns is answered v2")
        func updateUnderLoadFailsNothing() async throws {
            let server = try Shared.require()
            try await deployExpectingSuccess(versionYAML(name: "rolling", version: "v1"), predictorOf: "version", on: server)
            try await server.waitUntilLive("rolling")
            let oldPIDs = Set(try server.api("rolling").replicas.compactMap(\.pid))
            #expect(oldPIDs.count == 2)

            let load = LoadGenerator(url: server.gatewayURL + "/rolling", clients: 4, body: empty)
            try await Task.sleep(for: .milliseconds(500))
            let deploy = try await deployProject(versionYAML(name: "rolling", version: "v2"), predictorOf: "version", on: server)
            let liveAt = ContinuousClock.now
            try await Task.sleep(for: .seconds(1))
            let responses = await load.stop()

            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(deploy.stdout.contains("rolling: updated (revision 2)"), "\(deploy.stdout)")
            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).count) failed: \(failures(in: responses).prefix(5))")
            let bodies = Set(responses.map(\.body))
            #expect(bodies.isSubset(of: ["v1", "v2"]), "unexpected answers: \(bodies)")
            #expect(responses.contains { $0.body == "v1" } && responses.contains { $0.body == "v2" }, "the load should span the update")
            let afterLive = responses.filter { $0.sentAt > liveAt }
            #expect(afterLive.count > 10, "only \(afterLive.count) requests after the update")
            let stale = afterLive.filter { $0.body != "v2" }
            #expect(stale.isEmpty, "\(stale.count) requests sent after `tern deploy` returned were answered by v1")

            let api = try server.api("rolling")
            #expect(api.status == .live)
            #expect(api.revision == 2)
            #expect(api.readyReplicas == 2)
            #expect(api.replicas.count == 2 && api.replicas.allSatisfy { $0.revision == 2 }, "\(api.replicas)")
            let left = await survivors(of: oldPIDs, within: 10)
            #expect(left.isEmpty, "v1 replicas still running: \(left.map { commandLine(of: $0) })")
        }

        @Test("max_surge 0, max_unavailable 1: during an update under load, the API never has fewer than 1 or more than 2 ready replicas")
        func maxUnavailableBoundsReadyReplicas() async throws {
            let server = try Shared.require()
            // Replicas take 0.5 s to load, so that each step of the update lasts long enough to be seen.
            let v1 = versionYAML(name: "unavail", version: "v1", maxSurge: 0, maxUnavailable: 1, extraConfig: ["init_seconds": 0.5])
            try await deployExpectingSuccess(v1, predictorOf: "slow-init", on: server)
            try await server.waitUntilLive("unavail")

            let gateway = Sampler(every: .milliseconds(50)) { try await server.gatewayStatus("/unavail").readyReplicas }
            let control = Sampler(every: .milliseconds(50)) {
                let api = try await apiInBackground(server, "unavail")
                return (ready: api.readyReplicas, replicas: api.replicas.count)
            }
            let load = LoadGenerator(url: server.gatewayURL + "/unavail", clients: 3, body: empty)
            try await Task.sleep(for: .milliseconds(300))
            let v2 = versionYAML(name: "unavail", version: "v2", maxSurge: 0, maxUnavailable: 1, extraConfig: ["init_seconds": 0.5])
            let deploy = try await deployProject(v2, predictorOf: "slow-init", on: server)
            try await Task.sleep(for: .milliseconds(500))
            let responses = await load.stop()
            let gatewayReady = await gateway.stop().map(\.value)
            let controlSamples = await control.stop().map(\.value)

            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).prefix(5))")
            #expect(gatewayReady.count > 10, "only \(gatewayReady.count) samples")
            print("[rolling update] max_surge 0 / max_unavailable 1: gateway ready replicas \(gatewayReady.min() ?? -1)…\(gatewayReady.max() ?? -1) over \(gatewayReady.count) samples")
            #expect((gatewayReady.min() ?? 0) >= 1, "the gateway had \(gatewayReady.min() ?? 0) ready replicas")
            #expect((gatewayReady.max() ?? 0) <= 2, "max_surge 0 allows no third replica: \(gatewayReady.max() ?? 0)")
            // The dip to 1 ready replica can be shorter than the 50 ms sampling interval, so it is
            // not required to be seen; the bounds above are what max_surge 0 / max_unavailable 1 promise.
            #expect(controlSamples.allSatisfy { $0.ready >= 1 }, "tern get showed \(controlSamples.map(\.ready).min() ?? -1) ready")
            #expect(controlSamples.allSatisfy { $0.replicas <= 2 }, "tern get showed \(controlSamples.map(\.replicas).max() ?? -1) replicas")
            let api = try server.api("unavail")
            #expect(api.replicas.allSatisfy { $0.revision == 2 } && api.readyReplicas == 2)
            let bodies = Set(responses.map { $0.body.contains(#""version":"v1""#) ? "v1" : $0.body.contains(#""version":"v2""#) ? "v2" : $0.body })
            #expect(bodies == ["v1", "v2"], "answers: \(bodies)")
            #expect(await LoadClient.post(server.gatewayURL + "/unavail", body: empty).body.contains(#""version":"v2""#))
        }

        @Test("a redeploy whose __init__ raises (max_surge 1, max_unavailable 0) under load: zero failed requests, v1 keeps serving at full capacity, status names the failing revision, a later good deploy completes")
        func failingRevisionKeepsTheOldOneServing() async throws {
            let server = try Shared.require()
            try await deployExpectingSuccess(versionYAML(name: "guarded", version: "v1"), predictorOf: "version", on: server)
            try await server.waitUntilLive("guarded")
            let v1PIDs = Set(try server.api("guarded").replicas.compactMap(\.pid))

            let load = LoadGenerator(url: server.gatewayURL + "/guarded", clients: 3, body: empty)
            try await Task.sleep(for: .milliseconds(300))
            let bad = try await deployProject(
                versionYAML(name: "guarded", version: "v2"), predictorOf: "bad-init", on: server,
                extraArguments: ["--timeout", "30"])
            #expect(bad.status != 0, "a deploy whose replicas cannot load must fail: \(bad.stdout)")
            #expect(bad.stderr.contains("error (init failed)"), "stderr: \(bad.stderr)")
            #expect(bad.stderr.contains("model file is corrupt"), "stderr: \(bad.stderr)")
            // Let the failing replica go through a few restarts while the load continues.
            try await Task.sleep(for: .seconds(2))
            let failing = try await apiInBackground(server, "guarded")
            let responses = await load.stop()

            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).count) failed: \(failures(in: responses).prefix(5))")
            #expect(Set(responses.map(\.body)) == ["v1"], "answers: \(Set(responses.map(\.body)))")
            #expect(responses.count > 50, "only \(responses.count) answers")

            #expect(failing.status == .errorInitFailed, "status: \(failing.status.rawValue)")
            #expect(failing.revision == 2)
            let message = failing.message ?? ""
            #expect(message.contains("model file is corrupt"), "message: \(message)")
            #expect(message.contains("revision 2"), "the status should name the failing revision (2): \(message)")
            #expect(message.contains("revision 1"), "the status should say which revision keeps serving (1): \(message)")
            // v1 at full capacity: both v1 replicas, untouched, ready.
            let serving = failing.replicas.filter { $0.revision == 1 }
            #expect(serving.count == 2 && serving.allSatisfy { $0.state == .ready }, "\(failing.replicas)")
            #expect(Set(serving.compactMap(\.pid)) == v1PIDs, "v1 replicas were replaced or restarted")
            #expect(failing.readyReplicas == 2)
            // max_surge 1: exactly one replica of the failing revision is tried.
            #expect(failing.replicas.filter { $0.revision == 2 }.count == 1, "\(failing.replicas)")

            let gate = try await server.gatewayStatus("/guarded")
            #expect(gate.readyReplicas == 2)

            // A good revision afterwards rolls out, without --force.
            let good = try await deployProject(
                versionYAML(name: "guarded", version: "v3"), predictorOf: "version", on: server)
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            let fixed = try server.api("guarded")
            #expect(fixed.status == .live)
            #expect(fixed.revision == 3)
            #expect(fixed.replicas.count == 2 && fixed.replicas.allSatisfy { $0.revision == 3 }, "\(fixed.replicas)")
            #expect(await LoadClient.post(server.gatewayURL + "/guarded", body: empty).body == "v3")
        }

        @Test("a deploy while an update is still in progress is refused (non-zero exit, names --force); with --force it goes through")
        func concurrentDeployIsRefusedWithoutForce() async throws {
            let server = try Shared.require()
            func yaml(_ version: String, initSeconds: Double) -> String {
                SpecYAML.realtime(
                    name: "busy", config: ["version": "\(version)", "init_seconds": "\(initSeconds)"], minReplicas: 1,
                    maxReplicas: 1)
            }
            try await deployExpectingSuccess(yaml("v1", initSeconds: 0), predictorOf: "slow-init", on: server)
            try await server.waitUntilLive("busy")
            // v2 takes 6 s to load: its update is in progress for that long.
            let slow = try await deployProject(yaml("v2", initSeconds: 6), predictorOf: "slow-init", on: server, extraArguments: ["--no-wait"])
            #expect(slow.status == 0, "\(slow.stdout)\(slow.stderr)")
            let updating = try server.api("busy")
            #expect(updating.status == .updating, "status: \(updating.status.rawValue)")

            let refused = try await deployProject(yaml("v3", initSeconds: 0), predictorOf: "slow-init", on: server)
            #expect(refused.status != 0, "a second deploy during an update must be refused: \(refused.stdout)")
            #expect(refused.stderr.contains("--force"), "stderr: \(refused.stderr)")
            #expect(try server.api("busy").revision == 2, "the refused deploy must not create a revision")

            let forced = try await deployProject(
                yaml("v3", initSeconds: 0), predictorOf: "slow-init", on: server, extraArguments: ["--force"])
            #expect(forced.status == 0, "\(forced.stdout)\(forced.stderr)")
            let api = try server.api("busy")
            #expect(api.revision == 3)
            #expect(api.status == .live)
            let answer = await LoadClient.post(server.gatewayURL + "/busy", body: empty)
            #expect(answer.status == 200)
            #expect(answer.body.contains(#""version":"v3""#) || answer.body.contains(#""version": "v3""#), "\(answer.body)")
        }

        @Test("tern refresh replaces every replica (new pids) under continuous load with zero failed requests")
        func refreshReplacesEveryReplica() async throws {
            let server = try Shared.require()
            try await deployExpectingSuccess(versionYAML(name: "refreshed", version: "v1"), predictorOf: "version", on: server)
            try await server.waitUntilLive("refreshed")
            let before = try server.api("refreshed")
            let oldPIDs = Set(before.replicas.compactMap(\.pid))
            #expect(oldPIDs.count == 2)

            let load = LoadGenerator(url: server.gatewayURL + "/refreshed", clients: 3, body: empty)
            try await Task.sleep(for: .milliseconds(300))
            let refresh = try await ternInBackground(server, "refresh", "refreshed")
            #expect(refresh.status == 0, "\(refresh.stdout)\(refresh.stderr)")
            var after = before
            try await server.waitUntil(timeout: 30, "every replica to be replaced") {
                after = try await apiInBackground(server, "refreshed")
                let pids = Set(after.replicas.compactMap(\.pid))
                return after.status == .live && after.replicas.count == 2 && after.readyReplicas == 2
                    && pids.count == 2 && pids.isDisjoint(with: oldPIDs)
            }
            try await Task.sleep(for: .milliseconds(300))
            let responses = await load.stop()

            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).count) failed: \(failures(in: responses).prefix(5))")
            #expect(Set(responses.map(\.body)) == ["v1"])
            #expect(after.revision == before.revision, "refresh keeps the revision")
            #expect(Set(after.replicas.map(\.id)).isDisjoint(with: before.replicas.map(\.id)))
            let left = await survivors(of: oldPIDs, within: 10)
            #expect(left.isEmpty, "old replicas still running: \(left.map { commandLine(of: $0) })")
        }
    }
}
