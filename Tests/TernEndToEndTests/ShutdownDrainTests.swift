import AsyncHTTPClient
import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Graceful shutdown and scale-down (C14): requests in flight finish; nothing is cut.
    @Suite(.serialized)
    struct ShutdownDrain {
        @Test("SIGTERM to tern serve with 3 slow requests in flight: new requests are refused, the 3 finish with 200, the server exits 0, no replica remains")
        func sigtermFinishesInFlightRequests() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await deployExpectingSuccess(
                SpecYAML.realtime(name: "drain", predictor: ["threads_per_process": 3], minReplicas: 1, maxReplicas: 1),
                predictorOf: "slow", on: server)
            try await server.waitUntilLive("drain")
            let replicas = replicaProcesses(of: try server.api("drain"))
            #expect(!replicas.isEmpty)

            let inFlight = Task { await LoadClient.burst(server.gatewayURL + "/drain", count: 3, body: sleepBody(2)) }
            try await server.waitUntil(timeout: 5, "3 requests in flight") {
                try await server.gatewayStatus("/drain").inFlight == 3
            }
            try await Task.sleep(for: .milliseconds(200))
            let pid = try #require(server.process?.processIdentifier)
            let signalledAt = ContinuousClock.now
            #expect(kill(pid, SIGTERM) == 0)

            // A new request (on a new connection) is no longer accepted.
            try await Task.sleep(for: .milliseconds(300))
            let probeClient = HTTPClient(eventLoopGroupProvider: .singleton)
            let probe = await LoadClient.send(
                server.gatewayURL + "/drain", body: sleepBody(0), timeout: .seconds(5), client: probeClient)
            try await probeClient.shutdown()
            #expect(probe.status != 200, "a request sent after SIGTERM was served: \(probe.summary)")

            let responses = await inFlight.value
            #expect(responses.map(\.status) == [200, 200, 200], "\(responses.map(\.summary))")
            #expect(responses.allSatisfy { $0.body.contains("2") })
            let status = try await server.waitForExit(timeout: 30)
            let stoppedAfter = ContinuousClock.now - signalledAt
            #expect(status == 0, "tern serve exited with \(status)")
            #expect(stoppedAfter < .seconds(10), "shutdown took \(stoppedAfter)")
            let left = await survivors(of: replicas, within: 10)
            #expect(left.isEmpty, "still running after SIGTERM: \(left.map { commandLine(of: $0) })")
            let stray = processes(mentioning: server.home.path)
            #expect(stray.isEmpty, "processes of the server's home still running: \(stray)")
            for pid in left.union(stray.keys) { kill(pid, SIGKILL) }
        }

        @Test("SIGTERM with a 10 s request in flight and --stop-grace-seconds 3: the server exits 0 within the grace period, and the cut request gets 503 `replica_stopped`")
        func shutdownGraceIsBounded() async throws {
            let server = try TestServer()
            // The harness passes --stop-grace-seconds 3.
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await deployExpectingSuccess(
                SpecYAML.realtime(name: "long", minReplicas: 1, maxReplicas: 1), predictorOf: "slow", on: server)
            try await server.waitUntilLive("long")
            let replicas = replicaProcesses(of: try server.api("long"))

            let request = Task { await LoadClient.post(server.gatewayURL + "/long", body: sleepBody(10)) }
            try await server.waitUntil(timeout: 5, "the request to be running") {
                try await server.gatewayStatus("/long").inFlight == 1
            }
            let pid = try #require(server.process?.processIdentifier)
            let signalledAt = ContinuousClock.now
            #expect(kill(pid, SIGTERM) == 0)
            let status = try await server.waitForExit(timeout: 30)
            let stoppedAfter = ContinuousClock.now - signalledAt
            let cut = await request.value

            #expect(status == 0)
            // Grace for in-flight requests (3 s), then replicas get SIGTERM and at most 3 s more.
            #expect(stoppedAfter < .seconds(7.5), "tern serve took \(stoppedAfter) to stop with --stop-grace-seconds 3")
            #expect(cut.status == 503, "the request cut by the grace period: \(cut.summary)")
            #expect(errorKind(cut) == "replica_stopped", "\(cut.summary)")
            let left = await survivors(of: replicas, within: 10)
            #expect(left.isEmpty, "still running after SIGTERM: \(left.map { commandLine(of: $0) })")
            for pid in left { kill(pid, SIGKILL) }
        }

        @Test("lowering max_replicas from 3 to 1 and redeploying under load (6 clients, 0.5 s requests): zero failed requests; the removed replicas stop")
        func scaleDownUnderLoadFailsNothing() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            func yaml(replicas: Int) -> String {
                SpecYAML.realtime(name: "shrink", minReplicas: 1, maxReplicas: replicas, initReplicas: replicas)
            }
            try await deployExpectingSuccess(yaml(replicas: 3), predictorOf: "slow", on: server)
            try await server.waitUntilLive("shrink")
            let before = try server.api("shrink")
            #expect(before.readyReplicas == 3)
            let oldPIDs = Set(before.replicas.compactMap(\.pid))

            let load = LoadGenerator(url: server.gatewayURL + "/shrink", clients: 6, body: sleepBody(0.5))
            try await Task.sleep(for: .seconds(1))
            let deploy = try await deployProject(yaml(replicas: 1), predictorOf: "slow", on: server)
            try await Task.sleep(for: .seconds(1))
            let responses = await load.stop()

            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).count) failed: \(failures(in: responses).prefix(5))")
            #expect(responses.count >= 12, "only \(responses.count) answers")
            let after = try server.api("shrink")
            #expect(after.requestedReplicas == 1)
            #expect(after.readyReplicas == 1)
            #expect(after.replicas.count == 1, "\(after.replicas)")
            let left = await survivors(of: oldPIDs, within: 10)
            #expect(left.isEmpty, "removed replicas still running: \(left.map { commandLine(of: $0) })")
            #expect(try await server.stop() == 0)
        }
    }
}
