import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// `predictor.server_side_batching` (fixture `batch-echo`: two APIs with max_batch_size 8,
    /// batch_interval 200ms, one replica of one process and one thread, so two slots; `predict`
    /// answers `[{"echo": p, "batch": len(payload)} for p in payload]`). `batch-echo` has the
    /// default `batch_wait: adaptive`, `batch-echo-fixed` has `batch_wait: full_interval`.
    @Suite(.serialized, .sharedServer())
    struct Batching {
        private static let deployed = PerServer<Bool>()

        private func deployedBatchEcho() async throws -> TestServer {
            let server = try Shared.require()
            _ = try await Self.deployed.value(for: server) {
                try deployFixture("batch-echo", on: server)
                try await server.waitUntilLive("batch-echo")
                try await server.waitUntilLive("batch-echo-fixed")
                return true
            }
            return server
        }

        /// Sends every body to `api` at the same time; returns the responses in the order of `bodies`.
        private func concurrently(
            _ bodies: [String], to api: String = "batch-echo", on server: TestServer
        ) async -> [LoadResponse] {
            let url = server.gatewayURL + "/" + api
            return await withTaskGroup(of: (Int, LoadResponse).self) { group in
                for (index, body) in bodies.enumerated() {
                    group.addTask { (index, await LoadClient.post(url, body: Data(body.utf8))) }
                }
                var responses: [(Int, LoadResponse)] = []
                for await response in group { responses.append(response) }
                return responses.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }

        @Test("8 requests sent while both slots are busy are answered 200, each with its own echo, in batches of more than one")
        func concurrentRequestsAreBatched() async throws {
            let server = try await deployedBatchEcho()
            // Two slow requests take the replica's two slots (each goes out alone: a slot was
            // free); the 8 sent meanwhile collect into batches, sent when a slot frees or the
            // batch is full.
            let url = server.gatewayURL + "/batch-echo"
            let sleepers = (0..<2).map { _ in
                Task { await LoadClient.post(url, body: Data(#"{"sleep":0.6}"#.utf8)) }
            }
            try await Task.sleep(for: .milliseconds(150))
            let responses = await concurrently((0..<8).map { #"{"n":\#($0)}"# }, on: server)
            for sleeper in sleepers {
                let response = await sleeper.value
                #expect(response.status == 200, "\(response.summary)")
                #expect(try jsonObject(response.body)["batch"] as? Int == 1, "\(response.body)")
            }
            #expect(failures(in: responses).isEmpty, "\(failures(in: responses))")
            var sizes: [Int] = []
            for (index, response) in responses.enumerated() where response.status == 200 {
                let answer = try jsonObject(response.body)
                #expect((answer["echo"] as? [String: Any])?["n"] as? Int == index, "request \(index): \(response.body)")
                sizes.append(answer["batch"] as? Int ?? 0)
                #expect(response.headers["x-request-id"] != nil)
            }
            print("[batching] batch sizes seen by 8 requests sent while the slots were busy: \(sizes)")
            #expect(sizes.contains { $0 > 1 }, "every request ran alone: \(sizes)")
            #expect(sizes.allSatisfy { $0 <= 8 })
            let ids = Set(responses.compactMap { $0.headers["x-request-id"] })
            #expect(ids.count == 8)
        }

        @Test("a lone client's requests are sent at once, as batches of one, well within batch_interval (200 ms)")
        func aLoneRequestIsAnsweredAtOnce() async throws {
            let server = try await deployedBatchEcho()
            // The suite's earlier tests may have left a batch of several as the last one sent:
            // then the first lone request waits up to the interval once (the collector expects
            // as many as last time); every one after it goes at once.
            let first = await LoadClient.post(server.gatewayURL + "/batch-echo", body: Data(#"{"solo":0}"#.utf8))
            #expect(first.status == 200, "\(first.summary)")
            #expect(first.elapsed < .milliseconds(400), "answered after \(first.elapsed)")
            for index in 1...3 {
                let elapsed = try await loneRequest(server, path: "/batch-echo", index: index)
                #expect(elapsed < .milliseconds(150), "answered after \(elapsed)")
            }
        }

        /// Sends `{"solo": index}` alone to `path`, checks it ran as a batch of one and was
        /// echoed, and returns how long it took.
        private func loneRequest(_ server: TestServer, path: String, index: Int) async throws -> Duration {
            let response = await LoadClient.post(server.gatewayURL + path, body: Data(#"{"solo":\#(index)}"#.utf8))
            #expect(response.status == 200, "\(response.summary)")
            let answer = try jsonObject(response.body)
            #expect(answer["batch"] as? Int == 1)
            #expect((answer["echo"] as? [String: Any])?["solo"] as? Int == index)
            print("[batching] a lone request to \(path) took \(response.elapsed)")
            return response.elapsed
        }

        @Test("with batch_wait: full_interval a lone request waits for batch_interval (200 ms), then runs as a batch of one")
        func aLoneRequestWaitsForTheFullInterval() async throws {
            let server = try await deployedBatchEcho()
            let elapsed = try await loneRequest(server, path: "/batch-echo-fixed", index: 1)
            #expect(elapsed >= .milliseconds(190), "answered after \(elapsed)")
            #expect(elapsed < .milliseconds(1_500), "answered after \(elapsed)")
        }

        @Test("requests on the fast path (Content-Length) and on the Hummingbird path (chunked) join the same batch")
        func bothGatewayPathsJoinOneBatch() async throws {
            let server = try await deployedBatchEcho()
            // Four connections, two of each kind, sent well within the 200 ms interval to the API
            // that holds each batch for the whole interval: one batch of four.
            let connections = try (0..<4).map { _ in try RawHTTPConnection(port: server.port) }
            defer { for connection in connections { connection.close() } }
            for (index, connection) in connections.enumerated() {
                let body = #"{"n":\#(index)}"#
                let head = "POST /batch-echo-fixed HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                try connection.send(index % 2 == 0
                    ? head + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
                    : head + "Transfer-Encoding: chunked\r\n\r\n" + String(body.utf8.count, radix: 16) + "\r\n\(body)\r\n0\r\n\r\n")
            }
            for (index, connection) in connections.enumerated() {
                let response = try connection.readResponse()
                #expect(response.status == 200, "request \(index): \(response.body)")
                let answer = try jsonObject(response.body)
                #expect((answer["echo"] as? [String: Any])?["n"] as? Int == index, "request \(index): \(response.body)")
                #expect(answer["batch"] as? Int == 4, "request \(index): \(response.body)")
                #expect(response.headers["x-request-id"]?.isEmpty == false)
            }
        }

        @Test("a predictor returning the wrong number of answers fails every request of that batch with 500 invalid_response")
        func wrongLengthFailsTheWholeBatch() async throws {
            let server = try await deployedBatchEcho()
            // 9 answers: more than any batch holds (8), whatever batch the request lands in. Sent
            // to the API that holds each batch for its interval, so the four share one batch.
            let bodies = [#"{"answers":9}"#] + (1..<4).map { #"{"n":\#($0)}"# }
            let responses = await concurrently(bodies, to: "batch-echo-fixed", on: server)
            let bad = responses[0]
            #expect(bad.status == 500, "\(bad.summary)")
            let error = try errorObject(bad.body)
            #expect(error["kind"] as? String == "invalid_response")
            #expect(error["api"] as? String == "batch-echo-fixed")
            let message = try #require(error["message"] as? String)
            #expect(message.contains("a list of 9 answers for a batch of"), "\(message)")
            // Every request that shared the bad request's batch failed with the same message;
            // any other was answered normally.
            let batchSize = try #require(
                message.firstMatch(of: /for a batch of (\d+) payloads/).flatMap { Int($0.1) }, "\(message)")
            let failed = responses.filter { $0.status == 500 }
            #expect(failed.count == batchSize, "\(responses.map(\.summary))")
            for response in failed {
                #expect(try errorObject(response.body)["message"] as? String == message)
            }
            #expect(responses.allSatisfy { $0.status == 500 || $0.status == 200 }, "\(responses.map(\.summary))")
            print("[batching] wrong length: \(failed.count) of 4 requests shared the bad batch")
        }

        @Test("an invalid JSON request in a batch gets 400 invalid_json; the others are answered")
        func invalidJSONFailsOnlyItsRequest() async throws {
            let server = try await deployedBatchEcho()
            let bodies = [#"{"n":0}"#, #"{"n":"#, #"{"n":2}"#, #"{"n":3}"#]
            let responses = await concurrently(bodies, on: server)
            #expect(responses[1].status == 400, "\(responses[1].summary)")
            let error = try errorObject(responses[1].body)
            #expect(error["kind"] as? String == "invalid_json")
            for index in [0, 2, 3] {
                #expect(responses[index].status == 200, "\(responses[index].summary)")
                let answer = try jsonObject(responses[index].body)
                #expect((answer["echo"] as? [String: Any])?["n"] as? Int == index)
                // The invalid request was left out of the lists predict got.
                #expect((answer["batch"] as? Int ?? 0) <= 3)
            }
        }

        @Test("predict raising fails every request of its batch with 500 predictor_error naming the exception")
        func exceptionFailsTheBatch() async throws {
            let server = try await deployedBatchEcho()
            let response = await LoadClient.post(server.gatewayURL + "/batch-echo", body: Data(#"{"raise":"no batch today"}"#.utf8))
            #expect(response.status == 500)
            let error = try errorObject(response.body)
            #expect(error["kind"] as? String == "predictor_error")
            #expect(error["message"] as? String == "ValueError: no batch today")
        }
    }
}
