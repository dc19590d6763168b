import Foundation
import Testing
import TernCore
import TernGateway

@testable import TernMetrics

/// ``ServerMetrics`` as Prometheus sees it: the exposition text after known events.
@Suite struct ServerMetricsTests {
    private func text(_ metrics: ServerMetrics, apis: [APIDocument] = []) -> String {
        String(decoding: metrics.exposition(apis: apis), as: UTF8.self)
    }

    private func lines(_ text: String, _ prefix: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    @Test func requestsAreCountedByAPICodeAndClassWithTheirLatencies() {
        let metrics = ServerMetrics()
        for _ in 0..<3 {
            metrics.exchangeAnswered(
                ExchangeRecord(api: "iris", kind: "predict", requestID: "a", status: 200, duration: .milliseconds(3), queued: .milliseconds(1)))
        }
        metrics.exchangeAnswered(
            ExchangeRecord(api: "iris", kind: "predict", requestID: "b", status: 503, duration: .microseconds(200), queued: nil))
        let exposition = text(metrics)
        #expect(lines(exposition, "tern_requests_total{").sorted() == [
            #"tern_requests_total{api="iris",code="200",class="2xx"} 3"#,
            #"tern_requests_total{api="iris",code="503",class="5xx"} 1"#,
        ])
        #expect(lines(exposition, "tern_request_duration_seconds_count{") == [#"tern_request_duration_seconds_count{api="iris"} 4"#])
        // The rejection never got a slot: queue and replica time count the three others only.
        #expect(lines(exposition, "tern_request_queue_seconds_count{") == [#"tern_request_queue_seconds_count{api="iris"} 3"#])
        #expect(lines(exposition, "tern_request_replica_seconds_count{") == [#"tern_request_replica_seconds_count{api="iris"} 3"#])
        // 1 ms queued → le=0.001 holds all three; 2 ms on the replica → first in le=0.0025.
        #expect(exposition.contains(#"tern_request_queue_seconds_bucket{api="iris",le="0.001"} 3"#), "\(exposition)")
        #expect(exposition.contains(#"tern_request_replica_seconds_bucket{api="iris",le="0.001"} 0"#))
        #expect(exposition.contains(#"tern_request_replica_seconds_bucket{api="iris",le="0.0025"} 3"#))
        #expect(exposition.contains(#"tern_request_duration_seconds_bucket{api="iris",le="0.0005"} 1"#))
        #expect(exposition.contains("# HELP tern_requests_total "))
        #expect(exposition.contains("# TYPE tern_request_duration_seconds histogram"))
    }

    @Test func platformEventsAndBatchesAreCounted() {
        let metrics = ServerMetrics()
        metrics.replicaRestarted(api: "iris")
        metrics.replicaRestarted(api: "iris")
        metrics.dependenciesPrepared(api: "iris", outcome: .installed, duration: .seconds(12))
        metrics.dependenciesPrepared(api: "iris", outcome: .reused, duration: .milliseconds(20))
        metrics.jobBatchFinished(api: "ocr", outcome: .succeeded)
        metrics.jobBatchFinished(api: "ocr", outcome: .retried)
        metrics.jobBatchFinished(api: "ocr", outcome: .failed)
        metrics.jobBatchFinished(api: "ocr", outcome: .succeeded)
        metrics.batchSent(api: "iris", size: 3)
        metrics.batchSent(api: "iris", size: 8)
        let exposition = text(metrics)
        #expect(lines(exposition, "tern_replica_restarts_total{") == [#"tern_replica_restarts_total{api="iris"} 2"#])
        #expect(lines(exposition, "tern_dependency_installs_total{").sorted() == [
            #"tern_dependency_installs_total{api="iris",outcome="installed"} 1"#,
            #"tern_dependency_installs_total{api="iris",outcome="reused"} 1"#,
        ])
        #expect(lines(exposition, "tern_job_batches_total{").sorted() == [
            #"tern_job_batches_total{api="ocr",outcome="failed"} 1"#,
            #"tern_job_batches_total{api="ocr",outcome="retried"} 1"#,
            #"tern_job_batches_total{api="ocr",outcome="succeeded"} 2"#,
        ])
        #expect(lines(exposition, "tern_batch_size_count{") == [#"tern_batch_size_count{api="iris"} 2"#])
        #expect(lines(exposition, "tern_batch_size_sum{") == [#"tern_batch_size_sum{api="iris"} 11.0"#])
        #expect(exposition.contains(#"tern_batch_size_bucket{api="iris",le="4.0"} 1"#), "\(exposition)")
    }

    @Test func scrapeTimeGaugesFollowTheAPIsAndLeaveNoStaleSeries() {
        let metrics = ServerMetrics()
        let replicas = [
            ReplicaDocument(id: "iris-1", revision: 1, state: .ready, pid: 10, restarts: 0, lastExit: nil),
            ReplicaDocument(id: "iris-2", revision: 1, state: .ready, pid: 11, restarts: 0, lastExit: nil),
            ReplicaDocument(id: "iris-3", revision: 1, state: .starting, pid: 12, restarts: 0, lastExit: nil),
        ]
        let iris = APIDocument(
            name: "iris", kind: "RealtimeAPI", status: .updating, message: nil, endpoint: "/iris", revision: 1,
            requestedReplicas: 3, readyReplicas: 2, inFlight: 5, averageInFlight: nil, replicas: replicas,
            updatedAt: Date())
        let exposition = text(metrics, apis: [iris])
        #expect(lines(exposition, "tern_requests_in_flight{") == [#"tern_requests_in_flight{api="iris"} 5.0"#])
        #expect(lines(exposition, "tern_replicas_requested{") == [#"tern_replicas_requested{api="iris"} 3.0"#])
        #expect(lines(exposition, "tern_replicas_ready{") == [#"tern_replicas_ready{api="iris"} 2.0"#])
        #expect(lines(exposition, "tern_replicas{").sorted() == [
            #"tern_replicas{api="iris",state="ready"} 2.0"#, #"tern_replicas{api="iris",state="starting"} 1.0"#,
        ])
        #expect(lines(exposition, "tern_api_status{") == [#"tern_api_status{api="iris",status="updating"} 1.0"#])
        #expect(lines(exposition, "tern_replica_restarts_total{") == [#"tern_replica_restarts_total{api="iris"} 0"#])
        // The API is gone: its gauges go with it.
        let after = text(metrics, apis: [])
        #expect(lines(after, "tern_replicas_ready{").isEmpty)
        #expect(lines(after, "tern_requests_in_flight{").isEmpty)
    }

    @Test func statusClasses() {
        #expect(ServerMetrics.statusClass(200) == "2xx")
        #expect(ServerMetrics.statusClass(404) == "4xx")
        #expect(ServerMetrics.statusClass(599) == "5xx")
        #expect(ServerMetrics.statusClass(42) == "other")
    }
}
