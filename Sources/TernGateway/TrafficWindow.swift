import TernCore

/// One API's request statistics over a rolling window (default 60 s): answers by status class
/// and a latency histogram (``LatencyHistogram``) per second, plus counts by status class since
/// it was made. The figures of `tern get` and of ``TrafficSummary``.
///
/// A pure value: time is an argument (`now`, the time since any fixed origin, as an injected
/// clock reads it), so tests move it without sleeping. Recording an answer is an index
/// computation and three increments into storage allocated when the window is made (about
/// 1 KiB per second of window); nothing is allocated per request.
struct TrafficWindow {
    /// Per second: answers by status class (1xx…5xx) and latencies.
    struct Second {
        var statuses: [Int]
        var latencies: [UInt32]

        static var empty: Second {
            Second(statuses: Array(repeating: 0, count: 5), latencies: Array(repeating: 0, count: LatencyHistogram.bucketCount))
        }

        mutating func clear() {
            statuses.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            latencies.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }

    private var ring: SecondRing<Second>
    /// Answers by status class since the window was made.
    private var totals = StatusCounts()

    /// An empty window of `seconds` seconds (default 60).
    init(seconds: Int = 60) {
        ring = SecondRing(seconds: seconds, empty: .empty)
    }

    /// The window's length in seconds.
    var seconds: Int { ring.seconds }

    /// Counts one answer with HTTP `status` that took `duration` (admission to answer), answered
    /// at `now`. A status outside 100–599 counts only towards the latencies.
    mutating func record(status: Int, duration: Duration, at now: Duration) {
        let statusClass = status / 100 - 1
        let bucket = LatencyHistogram.index(duration)
        ring.update(at: SecondRing<Second>.second(of: now), reset: { $0.clear() }) { second in
            if (0..<5).contains(statusClass) { second.statuses[statusClass] += 1 }
            second.latencies[bucket] &+= 1
        }
        switch statusClass {
        case 0: totals.informational += 1
        case 1: totals.success += 1
        case 2: totals.redirection += 1
        case 3: totals.clientError += 1
        case 4: totals.serverError += 1
        default: break
        }
    }

    /// The window ending at `now` (its second and the `seconds - 1` before it): requests, rate
    /// per second over the whole window, p50 and p99 latency in ms, counts by class; and the
    /// totals since the window was made.
    func summary(at now: Duration) -> TrafficSummary {
        var statuses = Array(repeating: 0, count: 5)
        var latencies = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
        var requests = 0
        ring.forEach(endingAt: SecondRing<Second>.second(of: now)) { second in
            for index in 0..<5 { statuses[index] += second.statuses[index] }
            for index in 0..<latencies.count where second.latencies[index] > 0 {
                latencies[index] += UInt64(second.latencies[index])
                requests += Int(second.latencies[index])
            }
        }
        return TrafficSummary(
            windowSeconds: seconds, requests: requests, requestRate: Double(requests) / Double(seconds),
            latencyP50Ms: LatencyHistogram.quantile(0.5, of: latencies).map { $0 / 1000 },
            latencyP99Ms: LatencyHistogram.quantile(0.99, of: latencies).map { $0 / 1000 },
            responses: StatusCounts(
                informational: statuses[0], success: statuses[1], redirection: statuses[2], clientError: statuses[3],
                serverError: statuses[4]),
            totalResponses: totals)
    }
}
