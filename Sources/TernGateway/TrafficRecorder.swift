import Foundation
import NIOCore
import ServiceLifecycle
import Synchronization
import TernCore

/// The statistics of `tern get`: an ``ExchangeObserver`` that keeps a ``TrafficWindow`` per API
/// and, for APIs with `monitoring`, a ``PredictionWindow``; the control plane reads them as a
/// ``TrafficStatsSource``. Wired into the gateway by `tern serve` (``GatewayConfiguration/observer``)
/// and run as a service of its group (``run()``).
///
/// On the request path (the event loop that has the answer) it takes one lock and records the
/// answer's status and latency into preallocated per-second storage. A successful prediction of
/// a monitored API is only queued — its body retained, not copied or parsed — for at most 4,096
/// answers and 64 KiB each per second; the JSON is read once a second off the request path
/// (``run()``), or when statistics are asked for. Answers beyond the cap are counted as skipped,
/// so prediction statistics are then of a sample. APIs without `monitoring` never reach that code
/// (``ExchangeRecord/prediction`` is nil for them).
public final class TrafficRecorder: ExchangeObserver, TrafficStatsSource, Service, Sendable {
    /// Most predictions queued between two reads (one a second).
    public static let maxQueuedPredictions = 4096
    /// Largest answer body read for monitoring, in bytes; larger ones are skipped.
    public static let maxPredictionBytes = 64 << 10

    /// A prediction waiting to be read.
    private struct Queued {
        var api: String
        var monitoring: MonitoringSpec
        var body: ByteBuffer
        var at: Duration
    }

    /// The window's length in seconds.
    public let windowSeconds: Int
    private let clock: any Clock<Duration>
    private let reading: @Sendable () -> Duration
    private let traffic = Mutex<[String: TrafficWindow]>([:])
    private let queue = Mutex<(predictions: [Queued], skipped: [String: (monitoring: MonitoringSpec, count: Int, at: Duration)])>(([], [:]))
    private let predictions = Mutex<[String: PredictionWindow]>([:])

    /// A recorder with windows of `windowSeconds` seconds (default 60) on `clock` (default the
    /// continuous clock; tests pass TernTesting's `ManualClock`).
    public init(windowSeconds: Int = 60, clock: any Clock<Duration> = ContinuousClock()) {
        self.windowSeconds = max(1, windowSeconds)
        self.clock = clock
        self.reading = Self.reading(clock)
    }

    private static func reading<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    // MARK: ExchangeObserver

    public func exchangeAnswered(_ record: ExchangeRecord) {
        let now = reading()
        traffic.withLock { windows in
            windows[record.api, default: TrafficWindow(seconds: windowSeconds)]
                .record(status: record.status, duration: record.duration, at: now)
        }
        guard let prediction = record.prediction else { return }
        queue.withLock { queue in
            if queue.predictions.count < Self.maxQueuedPredictions,
                prediction.body.readableBytes <= Self.maxPredictionBytes
            {
                queue.predictions.append(Queued(api: record.api, monitoring: prediction.monitoring, body: prediction.body, at: now))
            } else {
                queue.skipped[record.api, default: (prediction.monitoring, 0, now)].count += 1
            }
        }
    }

    // MARK: reading predictions

    /// Reads the queued predictions into their APIs' windows now (a window is made anew when the
    /// API's `monitoring` changed); ``run()`` does it once a second, ``stats(api:)`` before it
    /// reads.
    public func drain() {
        let (queued, skipped) = queue.withLock { queue in
            defer { queue = ([], [:]) }
            return (queue.predictions, queue.skipped)
        }
        guard !queued.isEmpty || !skipped.isEmpty else { return }
        // Parsed outside every lock.
        let decoder = JSONDecoder()
        let values = queued.map {
            PredictionWindow.read(Data($0.body.readableBytesView), monitoring: $0.monitoring, decoder: decoder)
        }
        predictions.withLock { windows in
            func window(_ api: String, _ monitoring: MonitoringSpec) {
                if windows[api]?.monitoring != monitoring {
                    windows[api] = PredictionWindow(monitoring: monitoring, seconds: windowSeconds)
                }
            }
            for (entry, value) in zip(queued, values) {
                window(entry.api, entry.monitoring)
                windows[entry.api]!.record(value, at: entry.at)
            }
            for (api, entry) in skipped {
                window(api, entry.monitoring)
                windows[api]!.recordSkipped(entry.count, at: entry.at)
            }
        }
    }

    /// Reads queued predictions once a second until graceful shutdown.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await self.clock.sleep(for: .seconds(1))
                self.drain()
            }
        }
    }

    // MARK: TrafficStatsSource

    public func stats(api: String) async -> APITrafficStats? {
        drain()
        let now = reading()
        guard let summary = traffic.withLock({ $0[api]?.summary(at: now) }) else { return nil }
        return APITrafficStats(traffic: summary, predictions: predictions.withLock { $0[api]?.summary(at: now) })
    }

    public func forget(api: String) async {
        drain()
        traffic.withLock { _ = $0.removeValue(forKey: api) }
        predictions.withLock { _ = $0.removeValue(forKey: api) }
    }
}
