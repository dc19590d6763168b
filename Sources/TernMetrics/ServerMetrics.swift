import Prometheus
import Synchronization
import TernCore
import TernGateway

/// Tern's Prometheus metrics (docs/metrics.md), kept in one `PrometheusCollectorRegistry` that
/// this object owns and exposed by the control plane's `GET /metrics`.
///
/// It is fed at three places, each without knowing Prometheus:
/// - the gateway's one hook (``ExchangeObserver``, in `GatewayConfiguration.observers`): every
///   answered request (the NIO fast path included) and every server-side batch;
/// - ``PlatformObserver`` (TernCore): replica restarts and dependency installs from the local
///   backend, job batches from the job service;
/// - at scrape time, ``exposition(apis:)`` turns the control plane's API documents into gauges
///   (in-flight, replicas requested, ready and by state, API status).
///
/// The registry is passed explicitly rather than through swift-metrics' global `MetricsSystem`:
/// no process-wide bootstrap (so several servers or tests in one process do not share state),
/// and every metric is made with its `# HELP` text, which `PrometheusMetricsFactory` cannot give
/// (it registers them with an empty help, and a later help-carrying registration of the same
/// name would then trap).
///
/// Cost on the request path (``exchangeAnswered(_:)``): one lock and two dictionary look-ups to
/// find the API's handles (created once per API and status code), an atomic increment and up to
/// three histogram records (each under its own lock). No allocation once an API's handles
/// exist.
public final class ServerMetrics: ExchangeObserver, PlatformObserver, Sendable {
    /// The registry behind `/metrics` (the scrape-time gauges are not in it; see
    /// ``exposition(apis:)``).
    public let registry = PrometheusCollectorRegistry()

    /// An API's request metrics, made on its first request.
    private struct APIHandles: Sendable {
        var duration: DurationHistogram
        var queue: DurationHistogram
        var replica: DurationHistogram
        /// Status code → `tern_requests_total{api, code, class}`.
        var codes: [Int: Counter]
    }

    private let apis = Mutex<[String: APIHandles]>([:])
    private let batchSizes = Mutex<[String: ValueHistogram]>([:])

    /// Creates the metrics with an empty registry.
    public init() {}

    // MARK: Names, units, buckets

    /// Bucket bounds of the request latency histograms, in seconds: 0.5 ms to 60 s.
    public static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]
    /// Bucket bounds of `tern_batch_size`, in requests.
    public static let batchSizeBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    /// Bucket bounds of `tern_dependency_install_duration_seconds`: 1 s to 30 min.
    public static let installBuckets: [Duration] = [
        .seconds(1), .seconds(5), .seconds(15), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
        .seconds(600), .seconds(1800),
    ]

    /// The class label of a status code: `2xx`, `4xx`, …
    static func statusClass(_ status: Int) -> String {
        (100...599).contains(status) ? "\(status / 100)xx" : "other"
    }

    // MARK: ExchangeObserver (the gateway's hook)

    public func exchangeAnswered(_ record: ExchangeRecord) {
        let (counter, handles) = apis.withLock { table -> (Counter, APIHandles) in
            if let handles = table[record.api], let counter = handles.codes[record.status] {
                return (counter, handles)
            }
            var handles = table[record.api] ?? makeHandles(api: record.api)
            let counter = registry.makeCounter(
                descriptor: MetricNames.requestsTotal, labels: [("api", record.api), ("code", String(record.status)), ("class", Self.statusClass(record.status))])
            handles.codes[record.status] = counter
            table[record.api] = handles
            return (counter, handles)
        }
        counter.increment()
        handles.duration.record(record.duration)
        if let queued = record.queued, let replica = record.replica {
            handles.queue.record(queued)
            handles.replica.record(replica)
        }
    }

    private func makeHandles(api: String) -> APIHandles {
        let labels = [("api", api)]
        return APIHandles(
            duration: registry.makeDurationHistogram(
                descriptor: MetricNames.requestDurationSeconds, labels: labels, buckets: Self.latencyBuckets),
            queue: registry.makeDurationHistogram(
                descriptor: MetricNames.requestQueueSeconds, labels: labels, buckets: Self.latencyBuckets),
            replica: registry.makeDurationHistogram(
                descriptor: MetricNames.requestReplicaSeconds, labels: labels, buckets: Self.latencyBuckets),
            codes: [:])
    }

    public func batchSent(api: String, size: Int) {
        let histogram = batchSizes.withLock { table in
            if let histogram = table[api] { return histogram }
            let histogram = registry.makeValueHistogram(
                descriptor: MetricNames.batchSize, labels: [("api", api)], buckets: Self.batchSizeBuckets)
            table[api] = histogram
            return histogram
        }
        histogram.record(Double(size))
    }

    // MARK: PlatformObserver

    public func replicaRestarted(api: String) {
        restarts(api: api).increment()
    }

    private func restarts(api: String) -> Counter {
        registry.makeCounter(
            descriptor: MetricNames.replicaRestartsTotal, labels: [("api", api)])
    }

    public func dependenciesPrepared(api: String, outcome: DependencyInstallOutcome, duration: Duration) {
        registry.makeCounter(
            descriptor: MetricNames.dependencyInstallsTotal, labels: [("api", api), ("outcome", outcome.rawValue)]).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNames.dependencyInstallDurationSeconds, labels: [("outcome", outcome.rawValue)], buckets: Self.installBuckets).record(duration)
    }

    public func jobBatchFinished(api: String, outcome: JobBatchOutcome) {
        registry.makeCounter(
            descriptor: MetricNames.jobBatchesTotal, labels: [("api", api), ("outcome", outcome.rawValue)])
            .increment()
    }

    // MARK: Scrape

    /// The Prometheus text exposition (format 0.0.4) of every metric: the registry's, then the
    /// gauges of `apis` (the control plane's documents at scrape time). Each API in `apis` also
    /// gets its `tern_replica_restarts_total` series, at 0 until its first restart.
    public func exposition(apis: [APIDocument]) -> [UInt8] {
        for api in apis { _ = restarts(api: api.name) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 << 10)
        registry.emit(into: &buffer)
        Self.gauges(of: apis).emit(into: &buffer)
        return buffer
    }

    /// A registry of the scrape-time gauges of `apis`, new at each scrape, so a deleted API or a
    /// state no replica is in any more leaves no stale series.
    static func gauges(of apis: [APIDocument]) -> PrometheusCollectorRegistry {
        let gauges = PrometheusCollectorRegistry()
        for api in apis {
            let labels = [("api", api.name)]
            gauges.makeGauge(
                descriptor: MetricNames.requestsInFlight, labels: labels).set(Double(api.inFlight))
            gauges.makeGauge(
                descriptor: MetricNames.replicasRequested, labels: labels).set(Double(api.requestedReplicas))
            gauges.makeGauge(
                descriptor: MetricNames.replicasReady, labels: labels).set(Double(api.readyReplicas))
            var states: [String: Int] = [:]
            for replica in api.replicas { states[replica.state.rawValue, default: 0] += 1 }
            for (state, count) in states.sorted(by: { $0.key < $1.key }) {
                gauges.makeGauge(
                    descriptor: MetricNames.replicas, labels: [("api", api.name), ("state", state)]).set(Double(count))
            }
            gauges.makeGauge(
                descriptor: MetricNames.apiStatus, labels: [("api", api.name), ("status", api.status.rawValue)]).set(1.0)
        }
        return gauges
    }
}
