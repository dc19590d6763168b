import Foundation
import Testing
import TernCore
import TernTesting

/// `slow` with one replica of one slot that admits 4 requests in flight (C18).
private let boundedYAML = SpecYAML.realtime(
    name: "bounded", predictor: ["processes_per_replica": 1, "threads_per_process": 1], minReplicas: 1, maxReplicas: 1,
    autoscaling: ["max_replica_concurrency": 4])

/// `slow` with one slot and `networking.request_timeout: 1s` (C11).
private let timeoutYAML = SpecYAML.realtime(
    name: "timeout", networking: ["request_timeout": "1s"], minReplicas: 1, maxReplicas: 1)

/// `slow` on one replica with one slot (plus the request staged behind it) admitting
/// `maxReplicaConcurrency` requests in flight: for the client-disconnect tests.
private func oneSlotYAML(_ name: String, maxReplicaConcurrency: Int) -> String {
    SpecYAML.realtime(
        name: name, minReplicas: 1, maxReplicas: 1, autoscaling: ["max_replica_concurrency": "\(maxReplicaConcurrency)"])
}

private let trioYAML = oneSlotYAML("trio", maxReplicaConcurrency: 3)
private let pairYAML = oneSlotYAML("pair", maxReplicaConcurrency: 2)

extension EndToEnd {
    /// Admission in the gateway: `max_replica_concurrency × ready replicas` requests in flight
    /// (running plus queued), then 503 with `Retry-After`; request timeouts; client disconnects.
    @Suite(.serialized, .sharedServer())
    struct Backpressure {
        private static let deploys = DeployOnce()

        /// Deploys `yaml` (API `name`, fixture `slow`) once per server.
        private func deployed(_ name: String, _ yaml: String) async throws -> TestServer {
            let server = try Shared.require()
            try await Self.deploys.run(name, on: server) {
                try await deployExpectingSuccess(yaml, predictorOf: "slow", on: server)
            }
            try await server.waitUntilLive(name)
            return server
        }

        @Test("max_replica_concurrency 4, one replica with one slot: exactly 4 concurrent 1 s requests all succeed (queued, not refused)")
        func fourConcurrentAllSucceed() async throws {
            let server = try await deployed("bounded", boundedYAML)
            let responses = await LoadClient.burst(server.gatewayURL + "/bounded", count: 4, body: sleepBody(1))
            #expect(responses.map(\.status) == [200, 200, 200, 200], "\(responses.map(\.summary))")
            // One slot: they ran one after another, so all four were admitted together.
            let longest = responses.map(\.elapsed.inSeconds).max() ?? 0
            #expect(longest >= 3.8, "4 × 1 s on one slot must take about 4 s; took \(longest) s")
        }

        @Test("exactly 5 concurrent requests at the limit of 4: exactly one 503 `overloaded` with Retry-After, returned at once")
        func fifthConcurrentRequestIsRejected() async throws {
            let server = try await deployed("bounded", boundedYAML)
            let responses = await LoadClient.burst(server.gatewayURL + "/bounded", count: 5, body: sleepBody(1))
            let ok = responses.filter { $0.status == 200 }
            let rejected = responses.filter { $0.status == 503 }
            #expect(ok.count == 4, "\(responses.map(\.summary))")
            #expect(rejected.count == 1, "\(responses.map(\.summary))")
            let rejection = try #require(rejected.first)
            #expect(errorKind(rejection) == "overloaded", "\(rejection.summary)")
            #expect(rejection.body.contains(#""api":"bounded""#))
            let retryAfter = try #require(rejection.headers["retry-after"], "no Retry-After on \(rejection.summary)")
            #expect((Int(retryAfter) ?? 0) >= 1, "Retry-After: \(retryAfter)")
            #expect(rejection.elapsed < .milliseconds(300), "the rejection took \(rejection.elapsed)")
        }

        @Test("the 5th request sent while exactly 4 are in flight gets 503 in < 300 ms; once they finish, requests are admitted again")
        func boundaryIsExactWhileFourAreInFlight() async throws {
            let server = try await deployed("bounded", boundedYAML)
            let url = server.gatewayURL + "/bounded"
            let four = Task { await LoadClient.burst(url, count: 4, body: sleepBody(1)) }
            try await server.waitUntil(timeout: 5, "4 requests in flight") {
                try await server.gatewayStatus("/bounded").inFlight == 4
            }
            let fifth = await LoadClient.post(url, body: sleepBody(0))
            #expect(fifth.status == 503, "\(fifth.summary)")
            #expect(errorKind(fifth) == "overloaded")
            #expect(fifth.headers["retry-after"] != nil)
            #expect(fifth.elapsed < .milliseconds(300), "the rejection took \(fifth.elapsed)")
            // The rejected request took no slot and no queue place.
            #expect(try await server.gatewayStatus("/bounded").inFlight == 4)

            let admitted = await four.value
            #expect(admitted.allSatisfy { $0.status == 200 }, "\(admitted.map(\.summary))")
            let after = await LoadClient.post(url, body: sleepBody(0))
            #expect(after.status == 200, "\(after.summary)")
        }

        @Test("50 concurrent requests at a limit of 4: exactly 4 admitted and answered 200, 46 refused with 503 within a second")
        func fiftyConcurrentRequests() async throws {
            let server = try await deployed("bounded", boundedYAML)
            let responses = await LoadClient.burst(server.gatewayURL + "/bounded", count: 50, body: sleepBody(1))
            let ok = responses.filter { $0.status == 200 }
            let rejected = responses.filter { $0.status == 503 }
            #expect(ok.count == 4, "statuses: \(Dictionary(grouping: responses, by: \.status).mapValues(\.count))")
            #expect(rejected.count == 46, "other answers: \(responses.filter { $0.status != 200 && $0.status != 503 }.map(\.summary).prefix(3))")
            #expect(rejected.allSatisfy { errorKind($0) == "overloaded" && $0.headers["retry-after"] != nil })
            let slowest = rejected.map(\.elapsed).max() ?? .zero
            #expect(slowest < .seconds(1), "a rejection took \(slowest): rejections must not wait for a slot")
            #expect(try await server.gatewayStatus("/bounded").inFlight == 0)
        }

        @Test("request_timeout 1s: a 3 s prediction gets 504 `timeout` after about 1 s, a request queued behind it 503 `queue_timeout`; the replica then serves again")
        func requestTimeout() async throws {
            let server = try await deployed("timeout", timeoutYAML)
            let url = server.gatewayURL + "/timeout"
            let long = Task { await LoadClient.post(url, body: sleepBody(3)) }
            try await server.waitUntil(timeout: 5, "the long request to be running") {
                try await server.gatewayStatus("/timeout").inFlight == 1
            }
            let queued = Task { await LoadClient.post(url, body: sleepBody(0)) }

            let timedOut = await long.value
            #expect(timedOut.status == 504, "\(timedOut.summary)")
            #expect(errorKind(timedOut) == "timeout")
            #expect(timedOut.body.contains("request_timeout"), "the message should name the limit that fired: \(timedOut.body)")
            #expect(timedOut.elapsed.inSeconds >= 0.95 && timedOut.elapsed.inSeconds < 1.6, "504 after \(timedOut.elapsed)")

            let expired = await queued.value
            #expect(expired.status == 503, "\(expired.summary)")
            #expect(errorKind(expired) == "queue_timeout")
            #expect(expired.headers["retry-after"] != nil, "a queue timeout tells the client when to retry")
            #expect(expired.elapsed.inSeconds >= 0.95 && expired.elapsed.inSeconds < 1.6, "503 after \(expired.elapsed)")

            // The timed-out prediction still occupies the slot until it really ends (no
            // oversubscription of the replica).
            #expect(try await server.gatewayStatus("/timeout").inFlight == 1)
            try await server.waitUntil(timeout: 5, "the 3 s prediction to end and free its slot") {
                try await server.gatewayStatus("/timeout").inFlight == 0
            }
            let next = await LoadClient.post(url, body: sleepBody(0.1))
            #expect(next.status == 200, "\(next.summary)")
            #expect(next.body.contains("0.1"))
            #expect(try server.api("timeout").status == .live)
        }

        @Test("request_timeout counts queueing: a request that waits 0.7 s and would then run 0.8 s is answered 504 about 1 s after it was sent")
        func requestTimeoutIncludesQueueing() async throws {
            let server = try await deployed("timeout", timeoutYAML)
            try await server.waitUntil(timeout: 10, "an idle replica") { try await server.gatewayStatus("/timeout").inFlight == 0 }
            let url = server.gatewayURL + "/timeout"
            let first = Task { await LoadClient.post(url, body: sleepBody(0.8)) }
            try await server.waitUntil(timeout: 5, "the first request to be running") {
                try await server.gatewayStatus("/timeout").inFlight == 1
            }
            let second = await LoadClient.post(url, body: sleepBody(0.8))
            #expect(await first.value.status == 200)
            // Documented: request_timeout is "how long a request may take, queueing included".
            #expect(
                second.elapsed.inSeconds < 1.4,
                "the request was answered \(second.elapsed) after it was sent, past its 1 s request_timeout (\(second.summary))")
            #expect(second.status == 504, "\(second.summary)")
            try await server.waitUntil(timeout: 5, "the replica to be idle") { try await server.gatewayStatus("/timeout").inFlight == 0 }
        }

        /// The endpoint's in-flight count once it equals `expected`, or its last value after `limit`.
        private func inFlight(
            of endpoint: String, on server: TestServer, reaching expected: Int, within limit: Duration
        ) async throws -> Int {
            var count = try await server.gatewayStatus(endpoint).inFlight
            let deadline = ContinuousClock.now + limit
            while count != expected && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                count = try await server.gatewayStatus(endpoint).inFlight
            }
            return count
        }

        @Test("a client queued in the gateway that disconnects gives its place up at once: in-flight drops to the 2 requests the replica holds, and its work never runs")
        func disconnectedClientLeavesTheGatewayQueue() async throws {
            // One process, one thread: one request runs, one is staged in the replica's socket
            // (ReplicaConnection.pipelineDepth), the third waits in the gateway's queue, where the
            // fast path (PredictFastPath) notices its client closing the connection.
            let server = try await deployed("trio", trioYAML)
            let url = server.gatewayURL + "/trio"
            let first = Task { await LoadClient.post(url, body: sleepBody(1.5)) }
            let second = Task { await LoadClient.post(url, body: sleepBody(1.5)) }
            try await server.waitUntil(timeout: 5, "two requests to be with the replica") {
                try await server.gatewayStatus("/trio").inFlight == 2
            }
            let abandoned = await LoadClient.post(url, body: sleepBody(5), timeout: .milliseconds(300))
            #expect(abandoned.status == 0, "the client should have given up: \(abandoned.summary)")
            let inFlight = try await inFlight(of: "/trio", on: server, reaching: 2, within: .seconds(1))
            #expect(inFlight == 2, "after the queued client left, the gateway counts \(inFlight) requests in flight")
            #expect(await first.value.status == 200)
            #expect(await second.value.status == 200)
            // The abandoned 5 s prediction never reached the replica: a new request runs at once.
            let started = ContinuousClock.now
            let next = await LoadClient.post(url, body: sleepBody(0.1))
            #expect(next.status == 200, "\(next.summary)")
            #expect(ContinuousClock.now - started < .seconds(2), "the next request waited behind the abandoned one")
        }

        // Known gap: a request staged behind a running one (ReplicaConnection.pipelineDepth) is
        // already in the replica's socket, so when its client disconnects it still runs (a request
        // queued in the gateway is dropped: the test above). This test states the wanted behaviour
        // and is recorded as a known issue until staged requests can be withdrawn.
        @Test("a queued client that disconnects frees its place at once: in-flight drops, a new request is admitted, its work never runs")
        func disconnectedClientFreesItsQueuePlace() async throws {
            try await withKnownIssue("a request staged in the replica still runs after its client disconnects") {
                try await disconnectedClientFreesItsQueuePlaceBody()
            }
        }

        func disconnectedClientFreesItsQueuePlaceBody() async throws {
            let server = try await deployed("pair", pairYAML)
            let url = server.gatewayURL + "/pair"
            let running = Task { await LoadClient.post(url, body: sleepBody(2)) }
            try await server.waitUntil(timeout: 5, "the first request to be running") {
                try await server.gatewayStatus("/pair").inFlight == 1
            }
            // Queued behind it; the client gives up after 0.3 s and closes its connection.
            let abandoned = await LoadClient.post(url, body: sleepBody(1.5), timeout: .milliseconds(300))
            #expect(abandoned.status == 0, "the client should have given up: \(abandoned.summary)")

            let inFlight = try await inFlight(of: "/pair", on: server, reaching: 1, within: .seconds(1))
            #expect(inFlight == 1, "1 s after the client left, the gateway still counts \(inFlight) requests in flight")
            // Limit 2: one running plus this one fits only if the abandoned place was freed.
            let next = await LoadClient.post(url, body: sleepBody(0.1))
            #expect(next.status == 200, "\(next.summary)")
            let first = await running.value
            #expect(first.status == 200)
            // It ran right after the first request: the abandoned 1.5 s prediction never ran.
            let gap = seconds(from: first.finishedAt, to: next.finishedAt)
            #expect(gap < 1.0, "the next request ended \(gap) s after the first: the abandoned request ran in between")
        }
    }
}

/// Runs a deploy step once per (server, API name), for suites whose tests share deploys but must
/// each be runnable alone.
actor DeployOnce {
    private var done: Set<String> = []

    func run(_ name: String, on server: TestServer, _ deploy: @Sendable () async throws -> Void) async throws {
        let key = server.home.path + "|" + name
        guard !done.contains(key) else { return }
        try await deploy()
        done.insert(key)
    }
}
