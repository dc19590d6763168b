import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// `GET /metrics` on the control port of a real server with real replicas (docs/metrics.md):
    /// the token, the request counters and histograms after known traffic (fast path included),
    /// the replica gauges, a restart, server-side batch sizes, `promtool check metrics`, and
    /// `--no-metrics`. Fixture `boom` answers `{"mode": "raise"}` with 500, `{"mode": "os_exit"}`
    /// by killing its worker (502, then a restart) and anything else with 200.
    @Suite(.serialized, .sharedServer())
    struct Metrics {
        private static let deployed = PerServer<Bool>()

        private func deployedBoom() async throws -> TestServer {
            let server = try Shared.require()
            _ = try await Self.deployed.value(for: server) {
                try deployFixture("boom", on: server)
                try await server.waitUntilLive("boom")
                return true
            }
            return server
        }

        private static func token(of server: TestServer) throws -> String {
            try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// `GET /metrics` with `token` (the server's own by default; nil: none).
        static func scrape(
            _ server: TestServer, token: String?? = .none
        ) async throws -> (status: Int, contentType: String?, body: String) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.controlPort)/metrics")
            let bearer = try token ?? Self.token(of: server)
            if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = String(buffer: try await response.body.collect(upTo: 8 << 20))
            return (Int(response.status.code), response.headers.first(name: "Content-Type"), body)
        }

        /// The value of the sample `series` (its name and labels exactly as exposed), if present.
        static func value(_ series: String, in text: String) -> Double? {
            for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
                return Double(line.dropFirst(series.count + 1))
            }
            return nil
        }

        private func post(_ server: TestServer, _ body: String) async throws -> Int {
            try await server.request("/boom", body: Data(body.utf8)).status
        }

        @Test("requests are counted by API, code and class, with latency, queue and replica histograms, and the replica gauges")
        func requestsAndReplicas() async throws {
            let server = try await deployedBoom()
            let before = try await Self.scrape(server).body
            let base = { (series: String) in Self.value(series, in: before) ?? 0 }
            for _ in 0..<5 { #expect(try await post(server, #"{"mode": "ok"}"#) == 200) }
            for _ in 0..<2 { #expect(try await post(server, #"{"mode": "raise"}"#) == 500) }
            #expect(try await post(server, "{not json") == 400)

            let scrape = try await Self.scrape(server)
            #expect(scrape.status == 200)
            #expect(scrape.contentType == "text/plain; version=0.0.4; charset=utf-8")
            let text = scrape.body
            let ok = #"tern_requests_total{api="boom",code="200",class="2xx"}"#
            let raised = #"tern_requests_total{api="boom",code="500",class="5xx"}"#
            let bad = #"tern_requests_total{api="boom",code="400",class="4xx"}"#
            #expect(Self.value(ok, in: text) == base(ok) + 5, "\(text)")
            #expect(Self.value(raised, in: text) == base(raised) + 2)
            #expect(Self.value(bad, in: text) == base(bad) + 1)
            for histogram in ["tern_request_duration_seconds", "tern_request_queue_seconds", "tern_request_replica_seconds"] {
                let count = histogram + #"_count{api="boom"}"#
                #expect(Self.value(count, in: text) == base(count) + 8, "\(histogram)")
                let infinity = histogram + #"_bucket{api="boom",le="+Inf"}"#
                #expect(Self.value(infinity, in: text) == Self.value(count, in: text))
                #expect((Self.value(histogram + #"_sum{api="boom"}"#, in: text) ?? 0) > 0)
            }
            // Every answer took more than nothing and (on loopback) less than 60 s.
            #expect(
                Self.value(#"tern_request_duration_seconds_bucket{api="boom",le="60.0"}"#, in: text)
                    == Self.value(#"tern_request_duration_seconds_count{api="boom"}"#, in: text))
            #expect(Self.value(#"tern_requests_in_flight{api="boom"}"#, in: text) == 0)
            #expect(Self.value(#"tern_replicas_requested{api="boom"}"#, in: text) == 1)
            #expect(Self.value(#"tern_replicas_ready{api="boom"}"#, in: text) == 1)
            #expect(Self.value(#"tern_replicas{api="boom",state="ready"}"#, in: text) == 1)
            #expect(Self.value(#"tern_api_status{api="boom",status="live"}"#, in: text) == 1)
            #expect(text.contains("# HELP tern_requests_total "))
            #expect(text.contains("# TYPE tern_request_duration_seconds histogram"))
        }

        @Test("/metrics needs the token: 401 unauthorized without one or with a wrong one")
        func needsTheToken() async throws {
            let server = try Shared.require()
            for token in [String?.none, "wrong"] {
                let answer = try await Self.scrape(server, token: .some(token))
                #expect(answer.status == 401, "\(answer.body)")
                #expect(try errorObject(answer.body)["kind"] as? String == "unauthorized")
            }
        }

        @Test("a replica whose worker dies is counted once in tern_replica_restarts_total, and its request as a 502")
        func restartsAreCounted() async throws {
            let server = try await deployedBoom()
            let before = try await Self.scrape(server).body
            let restarts = #"tern_replica_restarts_total{api="boom"}"#
            let failed = #"tern_requests_total{api="boom",code="502",class="5xx"}"#
            #expect(Self.value(restarts, in: before) != nil, "a deployed API shows its restarts from 0: \(before)")
            #expect(try await post(server, #"{"mode": "os_exit"}"#) == 502)
            try await server.waitUntil(timeout: 60, "the restart to be counted and the replica ready again") {
                let text = try await Self.scrape(server).body
                return Self.value(restarts, in: text) == (Self.value(restarts, in: before) ?? 0) + 1
                    && Self.value(#"tern_replicas_ready{api="boom"}"#, in: text) == 1
            }
            let after = try await Self.scrape(server).body
            #expect(Self.value(failed, in: after) == (Self.value(failed, in: before) ?? 0) + 1)
            #expect(try await post(server, #"{"mode": "ok"}"#) == 200)
        }

        @Test("server-side batches fill tern_batch_size; batched requests have no queue or replica time")
        func batchSizes() async throws {
            let server = try Shared.require()
            try deployFixture("batch-echo", on: server)
            try await server.waitUntilLive("batch-echo")
            // One at a time: each goes out at once as a batch of one (batch_wait: adaptive).
            for n in 0..<4 {
                let answer = try await server.request("/batch-echo", body: Data(#"{"n": \#(n)}"#.utf8))
                #expect(answer.status == 200, "\(answer.body)")
            }
            let text = try await Self.scrape(server).body
            #expect(Self.value(#"tern_batch_size_count{api="batch-echo"}"#, in: text) == 4, "\(text)")
            #expect(Self.value(#"tern_batch_size_sum{api="batch-echo"}"#, in: text) == 4)
            #expect(Self.value(#"tern_batch_size_bucket{api="batch-echo",le="1.0"}"#, in: text) == 4)
            #expect(Self.value(#"tern_requests_total{api="batch-echo",code="200",class="2xx"}"#, in: text) == 4)
            #expect(Self.value(#"tern_request_duration_seconds_count{api="batch-echo"}"#, in: text) == 4)
            #expect(Self.value(#"tern_request_queue_seconds_count{api="batch-echo"}"#, in: text) == 0)
        }

        /// `promtool` on `PATH` (Debian's `prometheus` package; `.ci/run` installs it).
        static let promtool: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":").map { "\($0)/promtool" }.first { FileManager.default.isExecutableFile(atPath: $0) }

        @Test(
            "promtool check metrics finds no problem in a real scrape",
            .enabled(if: promtool != nil, "promtool is not installed (apt-get install prometheus); skipped"))
        func promtoolFindsNoProblem() async throws {
            let server = try await deployedBoom()
            #expect(try await post(server, #"{"mode": "ok"}"#) == 200)
            let text = try await Self.scrape(server).body
            #expect(text.contains("tern_request_duration_seconds_bucket"))
            let file = server.home.appendingPathComponent("scrape.txt")
            try Data(text.utf8).write(to: file)
            let result = try runCommand("/bin/sh", ["-c", "\(Self.promtool!) check metrics < '\(file.path)'"])
            #expect(result.status == 0, "promtool: \(result.stdout) \(result.stderr)")
            #expect(result.stdout.isEmpty && result.stderr.isEmpty, "promtool: \(result.stdout) \(result.stderr)")
        }
    }

    /// `tern serve --no-metrics`: no metrics, and `/metrics` says so.
    @Suite(.serialized, .sharedServer("--no-metrics"))
    struct MetricsOff {
        @Test("with --no-metrics, GET /metrics answers 404 not_found naming the option; the gateway serves as usual")
        func metricsOff() async throws {
            let server = try Shared.require()
            let answer = try await Metrics.scrape(server)
            #expect(answer.status == 404)
            let error = try errorObject(answer.body)
            #expect(error["kind"] as? String == "not_found")
            #expect((error["message"] as? String)?.contains("--no-metrics") == true, "\(answer.body)")
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            let echo = try await server.request("/echo", body: Data(#"{"a": 1}"#.utf8))
            #expect(echo.status == 200)
        }
    }
}
