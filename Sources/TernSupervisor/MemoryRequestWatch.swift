import TernCore

/// Whether a replica uses more memory than its `compute.mem` request (pure: samples in, events
/// out). The request is a reservation, as in Cortex and Kubernetes (`resources.requests.memory`):
/// a replica over it serves on, but the machine's memory is overbooked, so Tern says so in the
/// API's log and status. Only `compute.mem_limit` kills.
///
/// To avoid a log line per sample around the threshold, going back under needs the usage to
/// fall below 90 % of the request (hysteresis).
struct MemoryRequestWatch: Sendable, Equatable {
    /// Time between samples of the replica's resident memory.
    static let interval: Duration = .seconds(1)

    /// What one sample changed.
    enum Event: Equatable {
        /// The replica went over its request; the text says by how much, e.g. `uses 180Mi, over
        /// its compute.mem request of 100Mi`.
        case wentOver(String)
        /// Still over (the text has the latest usage).
        case over(String)
        /// The replica came back under its request.
        case cameBack(String)
    }

    /// `compute.mem` in bytes.
    let requestBytes: Int64
    /// Whether the last sample was over the request.
    private(set) var isOver = false

    /// A watch for `compute`, or nil when there is nothing to watch: no request, or a limit at
    /// the request (the limiter kills the replica before it could go over).
    init?(_ compute: ComputeSpec) {
        guard let request = compute.memBytes else { return nil }
        if let limit = compute.memLimitBytes, limit <= request { return nil }
        requestBytes = request
    }

    /// Records one sample of the replica's resident memory (bytes summed over its processes).
    mutating func record(residentBytes: Int64) -> Event? {
        let request = Quantity.formatBytes(requestBytes)
        if residentBytes > requestBytes {
            let usage = "uses \(Self.format(residentBytes)), over its compute.mem request of \(request)"
            defer { isOver = true }
            return isOver ? .over(usage) : .wentOver(usage)
        }
        guard isOver, residentBytes < requestBytes / 10 * 9 else { return nil }
        isOver = false
        return .cameBack("uses \(Self.format(residentBytes)) again, under its compute.mem request of \(request)")
    }

    /// Bytes in MiB (`180Mi`), or GiB with one decimal from 10 GiB (`12.5Gi`).
    static func format(_ bytes: Int64) -> String {
        let mib = Double(bytes) / 1_048_576
        if mib >= 10 * 1024 {
            let gib = (mib / 1024 * 10).rounded() / 10
            return gib == gib.rounded() ? "\(Int(gib))Gi" : "\(gib)Gi"
        }
        return "\(Int(mib.rounded()))Mi"
    }
}
