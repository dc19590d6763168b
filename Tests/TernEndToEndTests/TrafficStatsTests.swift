import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// `tern get`'s traffic, prediction monitoring and cost, from real requests through the real
    /// gateway to real replicas (fixture `monitored`: two APIs, a classifier and a regressor).
    @Suite(.serialized, .sharedServer("--cost-per-cpu-hour", "0.04", "--cost-per-gib-hour", "0.005"))
    struct TrafficStats {
        /// Deploys the fixture once and sends the classifier 20 predictions (12 setosa, 5
        /// versicolor, 3 virginica), two the predictor answers 400 and one it fails with 500.
        private func servedClassifier() async throws -> TestServer {
            let server = try Shared.require()
            if (try? server.api("monitored"))?.traffic == nil {
                try deployFixture("monitored", on: server)
                try await server.waitUntilLive("monitored")
                let labels = Array(repeating: "setosa", count: 12) + Array(repeating: "versicolor", count: 5)
                    + Array(repeating: "virginica", count: 3)
                for label in labels {
                    let response = try await server.request("/monitored", body: Data(#"{"label":"\#(label)"}"#.utf8))
                    #expect(response.status == 200, "\(response.body)")
                }
                for fail in [400, 400, 500] {
                    let response = try await server.request("/monitored", body: Data(#"{"fail":\#(fail)}"#.utf8))
                    #expect(response.status == fail, "\(response.body)")
                }
            }
            return server
        }

        @Test("GET /v1/apis/NAME counts the answers by class, with latencies, the class distribution and the cost")
        func documentCountsTheKnownTraffic() async throws {
            let server = try await servedClassifier()
            let api = try server.api("monitored")
            let traffic = try #require(api.traffic)
            #expect(traffic.windowSeconds == 60)
            #expect(traffic.requests == 23)
            #expect(traffic.requestRate == 23.0 / 60)
            #expect(traffic.responses == StatusCounts(success: 20, clientError: 2, serverError: 1))
            #expect(traffic.totalResponses == StatusCounts(success: 20, clientError: 2, serverError: 1))
            let p50 = try #require(traffic.latencyP50Ms)
            let p99 = try #require(traffic.latencyP99Ms)
            #expect(p50 > 0 && p50 <= p99 && p99 < 5000, "p50 \(p50) ms, p99 \(p99) ms")
            #expect(api.upToDateReplicas == 1)

            let predictions = try #require(api.predictions)
            #expect(predictions.modelType == .classification)
            #expect(predictions.key == "label")
            #expect(predictions.count == 20)
            #expect(predictions.unreadable == 0)
            #expect(predictions.skipped == 0)
            #expect(predictions.classes == ["setosa": 12, "versicolor": 5, "virginica": 3])

            // 0.25 CPU × 0.04 + 64 MiB (1/16 GiB) × 0.005 = 0.0103125 per hour, one replica; the
            // minute's share of it over its 20 successful predictions, per 1,000.
            let cost = try #require(api.cost)
            #expect(cost.replicas == 1)
            #expect(abs(cost.perHour - 0.0103125) < 1e-12)
            let per1000: Double = try #require(cost.per1000Predictions)
            let expected: Double = 0.0103125 / 60 / 20 * 1000
            #expect(abs(per1000 - expected) < 1e-12)

            let replica = try #require(api.replicas.first)
            #expect(replica.inFlight == 0)
            #expect((replica.uptimeSeconds ?? -1) > 0)
        }

        @Test("tern get shows the counts, the rate and the cost in the API's row")
        func tableShowsTheCounts() async throws {
            let server = try await servedClassifier()
            let result = try server.tern("get")
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            let header: [String] = [
                "NAME", "STATUS", "UP-TO-DATE", "REQUESTED", "READY", "IN-FLIGHT", "LAST", "UPDATE", "REQ/S", "P50", "P99",
                "2XX", "4XX", "5XX", "COST/H", "COST/1K", "ENDPOINT",
            ]
            #expect(lines.first == header, "\(result.stdout)")
            let row = try #require(lines.first { $0.first == "monitored" }, "\(result.stdout)")
            #expect(row.count == 16, "\(row)")
            #expect(Array(row[1...5]) == ["live", "1", "1", "1", "0"], "\(row)")
            #expect(row[7] == "0.38", "\(row)")
            #expect(Array(row[10...12]) == ["20", "2", "1"], "\(row)")
            #expect(row[13] == "0.01031", "\(row)")
            #expect(row[15] == server.gatewayURL + "/monitored")
        }

        @Test("tern get NAME shows the requests, the replica's uptime and in-flight, and the class distribution")
        func detailShowsTheClassDistribution() async throws {
            let server = try await servedClassifier()
            let result = try server.tern("get", "monitored")
            #expect(result.status == 0, "\(result.stderr)")
            let text = result.stdout
            #expect(text.contains("replicas:  1 ready / 1 requested, 1 up to date"), "\(text)")
            #expect(text.contains("/s, p50 "), "\(text)")
            #expect(text.contains("over the last 60s; 2XX 20, 4XX 2, 5XX 1"), "\(text)")
            #expect(text.contains("since the server started: 2XX 20, 4XX 2, 5XX 1"), "\(text)")
            #expect(text.contains("cost:      0.01031 per hour (1 replica), 0.008594 per 1,000 predictions"), "\(text)")
            #expect(text.contains("predictions (classification, key label, last 60s): 20 read, 0 unreadable"), "\(text)")
            let lines = text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(lines.contains(["REPLICA", "REVISION", "STATE", "PID", "UPTIME", "IN-FLIGHT", "RESTARTS", "LAST", "EXIT"]), "\(text)")
            #expect(lines.contains { $0.count >= 6 && $0[2] == "ready" && $0[5] == "0" }, "\(text)")
            #expect(lines.contains(["setosa", "12", "60.0%"]), "\(text)")
            #expect(lines.contains(["versicolor", "5", "25.0%"]), "\(text)")
            #expect(lines.contains(["virginica", "3", "15.0%"]), "\(text)")

            let json = try jsonObject(try server.tern("get", "monitored", "-o", "json").stdout)
            let traffic = try #require(json["traffic"] as? [String: Any])
            let responses = traffic["responses"] as? [String: Int]
            #expect(responses == ["1xx": 0, "2xx": 20, "3xx": 0, "4xx": 2, "5xx": 1])
            let predictions = json["predictions"] as? [String: Any]
            let classes = predictions?["classes"] as? [String: Int]
            #expect(classes == ["setosa": 12, "versicolor": 5, "virginica": 3])
        }

        @Test("a regressor's bare-number answers give count, min, max, mean, p50 and p99")
        func regressionFigures() async throws {
            let server = try await servedClassifier()
            try await server.waitUntilLive("regressed")
            for value in 1...10 {
                let response = try await server.request("/regressed", body: Data(#"{"value":\#(value)}"#.utf8))
                #expect(response.status == 200)
            }
            let predictions = try #require(try server.api("regressed").predictions)
            #expect(predictions.modelType == .regression)
            #expect(predictions.count == 10)
            #expect(predictions.min == 1)
            #expect(predictions.max == 10)
            #expect(predictions.mean == 5.5)
            #expect(predictions.p50 == 5)
            #expect(predictions.p99 == 10)
            #expect(predictions.classes == nil)
            let text = try server.tern("get", "regressed").stdout
            #expect(text.contains("count 10, min 1, max 10, mean 5.5, p50 5, p99 10"), "\(text)")
        }

        @Test("a deleted API's statistics go with it")
        func deleteForgetsTheStatistics() async throws {
            let server = try await servedClassifier()
            try await server.waitUntilLive("regressed")
            _ = try await server.request("/regressed", body: Data(#"{"value":1}"#.utf8))
            #expect(try server.tern("delete", "regressed").status == 0)
            try deployFixture("monitored", on: server)
            try await server.waitUntilLive("regressed")
            #expect(try server.api("regressed").traffic == nil)
            #expect(try server.api("monitored").traffic?.totalResponses.success == 20)
        }
    }
}
