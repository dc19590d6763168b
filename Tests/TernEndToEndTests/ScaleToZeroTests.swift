import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// `slow` that scales to zero after 2 s without traffic.
private let zeroYAML = SpecYAML.realtime(
    name: "zero", minReplicas: 0, maxReplicas: 1, initReplicas: 1,
    autoscaling: ["window": "1s", "downscale_stabilization_period": "2s"])

extension EndToEnd {
    /// `min_replicas: 0` (C16): idle APIs give back every replica; a request that arrives then is
    /// held in the gateway while one replica starts, and answered.
    @Suite(.serialized, .sharedServer("--autoscaler-tick-seconds", "1"))
    struct ScaleToZero {
        @Test("an idle API with min_replicas 0 is `scaled to zero`; 5 concurrent requests are held during the cold start and all answered 200")
        func coldStartAnswersEveryHeldRequest() async throws {
            let server = try Shared.require()
            try await deployExpectingSuccess(zeroYAML, predictorOf: "slow", on: server)
            let first = try await server.request("/zero", body: sleepBody(0))
            #expect(first.status == 200, "the initial replica serves: \(first.body)")

            try await server.waitUntil(timeout: 30, "zero to scale to zero") {
                try server.api("zero").status == .scaledToZero
            }
            let idle = try server.api("zero")
            #expect(idle.status.rawValue == "scaled to zero")
            #expect(idle.requestedReplicas == 0)
            #expect(idle.readyReplicas == 0)
            #expect(idle.replicas.isEmpty, "\(idle.replicas)")
            let left = await survivors(of: Set(processes(mentioning: server.home.path + "/run/zero-").keys), within: 10)
            #expect(left.isEmpty, "replica processes still running: \(left.map { commandLine(of: $0) })")
            #expect(try server.tern("get").stdout.contains("scaled to zero"))

            let responses = await LoadClient.burst(server.gatewayURL + "/zero", count: 5, body: sleepBody(0.2))
            #expect(responses.map(\.status) == [200, 200, 200, 200, 200], "\(responses.map(\.summary))")
            #expect(responses.allSatisfy { $0.body.contains("0.2") })
            let coldStart = responses.map(\.firstByte).min() ?? .zero
            let slowest = responses.map(\.elapsed).max() ?? .zero
            print(
                "[scale-to-zero] cold start (request sent → first byte of the first answer): "
                    + String(format: "%.0f ms", coldStart.inSeconds * 1000)
                    + "; all 5 held requests answered after " + String(format: "%.0f ms", slowest.inSeconds * 1000))
            // One replica with one slot: the cold start plus five 0.2 s predictions one after another.
            #expect(coldStart > .milliseconds(200), "the first answer cannot come before a replica started and slept 0.2 s")
            #expect(slowest < .seconds(15))

            let awake = try server.api("zero")
            #expect(awake.status == .live, "after the cold start: \(awake.status.rawValue) \(awake.message ?? "")")
            #expect(awake.requestedReplicas == 1)
            #expect(awake.readyReplicas == 1)

            // Idle again: back to zero.
            try await server.waitUntil(timeout: 30, "zero to scale to zero again") {
                try server.api("zero").status == .scaledToZero
            }
        }

        @Test("a cold start slower than --cold-start-timeout-seconds 2 answers 503 `cold_start_timeout` with Retry-After after about 2 s")
        func coldStartTimeout() async throws {
            let server = try TestServer()
            try await server.start(extraArguments: ["--autoscaler-tick-seconds", "1", "--cold-start-timeout-seconds", "2"])
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await deployExpectingSuccess(
                SpecYAML.realtime(name: "late", config: ["init_seconds": 4], minReplicas: 0, maxReplicas: 1),
                predictorOf: "slow-init", on: server)
            #expect(try server.api("late").status == .scaledToZero)

            let response = await LoadClient.post(server.gatewayURL + "/late", body: Data("{}".utf8))
            #expect(response.status == 503, "\(response.summary)")
            #expect(errorKind(response) == "cold_start_timeout", "\(response.body)")
            #expect(response.headers["retry-after"] != nil, "no Retry-After: \(response.headers)")
            #expect(
                response.elapsed.inSeconds >= 1.9 && response.elapsed.inSeconds < 3.0,
                "answered after \(response.elapsed); the cold-start limit is 2 s")

            // The replica kept starting; once it is up, requests are answered.
            try await server.waitUntilLive("late", timeout: 30)
            let later = await LoadClient.post(server.gatewayURL + "/late", body: Data("{}".utf8))
            #expect(later.status == 200, "\(later.summary)")
            #expect(try await server.stop() == 0)
        }

        @Test("a predictor whose __init__ raises, started from zero: the held request gets 503 naming the init error promptly, not after the cold-start limit")
        func initFailureFromZeroFailsHeldRequestsPromptly() async throws {
            let server = try TestServer()
            try await server.start(extraArguments: ["--autoscaler-tick-seconds", "1", "--cold-start-timeout-seconds", "10"])
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await deployExpectingSuccess(
                SpecYAML.realtime(name: "broken-zero", minReplicas: 0, maxReplicas: 1), predictorOf: "bad-init", on: server)
            #expect(try server.api("broken-zero").status == .scaledToZero)

            // A client deadline of 7 s bounds the test; the cold-start limit is 10 s.
            let response = await LoadClient.post(
                server.gatewayURL + "/broken-zero", body: Data("{}".utf8), timeout: .seconds(7))
            #expect(response.status == 503, "\(response.summary)")
            #expect(response.elapsed < .seconds(6), "the held request waited \(response.elapsed) although the replica had failed to load")
            #expect(response.body.contains("model file is corrupt"), "the 503 should carry the init error: \(response.body)")
            #expect(try await server.stop() == 0)
        }
    }
}
