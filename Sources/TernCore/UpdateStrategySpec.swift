/// `update_strategy`: how a rolling update replaces the replicas of the old revision.
public struct UpdateStrategySpec: Sendable, Equatable, Codable {
    /// `max_surge`: replicas allowed above the desired count during an update. Default: 25%.
    public var maxSurge: ReplicaCount
    /// `max_unavailable`: replicas allowed below the desired count during an update. Default: 25%.
    /// Not both 0.
    public var maxUnavailable: ReplicaCount

    /// Creates an update strategy with Kubernetes' defaults (25% each).
    public init(maxSurge: ReplicaCount = .percent(25), maxUnavailable: ReplicaCount = .percent(25)) {
        self.maxSurge = maxSurge
        self.maxUnavailable = maxUnavailable
    }

    /// Both limits as replica counts for `replicas` desired replicas, rounded as Kubernetes
    /// does: surge up, unavailable down; when both come to 0, unavailable becomes 1 so the
    /// update can progress.
    ///
    /// ```swift
    /// UpdateStrategySpec().resolve(replicas: 3)  // (maxSurge: 1, maxUnavailable: 1)
    /// UpdateStrategySpec().resolve(replicas: 1)  // (maxSurge: 1, maxUnavailable: 0)
    /// ```
    public func resolve(replicas: Int) -> (maxSurge: Int, maxUnavailable: Int) {
        let surge = maxSurge.resolve(replicas: replicas, roundUp: true)
        let unavailable = maxUnavailable.resolve(replicas: replicas, roundUp: false)
        if surge == 0 && unavailable == 0 { return (0, 1) }
        return (surge, unavailable)
    }
}

/// A number of replicas, absolute (`2`) or relative to the desired count (`"25%"`).
///
/// Codable as in YAML: an integer, or a string ending in `%`.
public enum ReplicaCount: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// That many replicas (at least 0).
    case count(Int)
    /// That percentage of the desired replicas (0…100).
    case percent(Int)

    /// The count for `replicas` desired replicas; percentages round up or down as asked.
    /// Never traps: a percentage is clamped to 0…100 and the product saturates, so even a
    /// stored spec with absurd numbers resolves to some count.
    public func resolve(replicas: Int, roundUp: Bool) -> Int {
        switch self {
        case .count(let count): return Swift.max(count, 0)
        case .percent(let percent):
            let percent = Swift.min(Swift.max(percent, 0), 100)
            let whole = (replicas / 100).multipliedSaturating(by: percent)
            let part = (replicas % 100) * percent
            return whole.addingSaturating(roundUp ? (part + 99) / 100 : part / 100)
        }
    }

    /// `2` or `25%`.
    public var description: String {
        switch self {
        case .count(let count): "\(count)"
        case .percent(let percent): "\(percent)%"
        }
    }

    /// Decodes an integer or a `"N%"` string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let count = try? container.decode(Int.self) {
            self = .count(count)
            return
        }
        let text = try container.decode(String.self)
        guard text.hasSuffix("%"), let percent = Int(text.dropLast()) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected an integer or \"N%\"")
        }
        self = .percent(percent)
    }

    /// Encodes an integer or a `"N%"` string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .count(let count): try container.encode(count)
        case .percent: try container.encode(description)
        }
    }
}
