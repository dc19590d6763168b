import TernCore

/// The in-flight requests of an API across several sources: the sum of what each reports.
///
/// With one gateway per machine or pod (Kubernetes), each gateway queues and runs only its own
/// share of an API's requests; their sum is the API's total, the autoscaler's signal (Cortex sums
/// its proxies' counts the same way, `pkg/autoscaler/autoscaler.go`). The sources are asked
/// concurrently, so one slow gateway delays a sample by its own latency only.
///
/// ```swift
/// let total = SummedInFlightSource([gatewayA, gatewayB])
/// await total.inFlight(api: "iris")   // gatewayA's count + gatewayB's count
/// ```
public struct SummedInFlightSource: InFlightSource {
    /// The sources summed, e.g. one client per gateway.
    public let sources: [any InFlightSource]

    /// Sums `sources`; with none, every API has 0 requests in flight.
    public init(_ sources: [any InFlightSource]) {
        self.sources = sources
    }

    /// The sum of every source's count for `api` (saturating at `Int.max`).
    public func inFlight(api: String) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            for source in sources {
                group.addTask { await source.inFlight(api: api) }
            }
            var total = 0
            for await count in group {
                let (sum, overflow) = total.addingReportingOverflow(count)
                total = overflow ? .max : sum
            }
            return total
        }
    }
}
