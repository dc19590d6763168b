import Foundation

/// The rate limit of one API key (`tern keys create API --rate-limit 10/s --burst 20`): at most
/// ``requests`` per ``per`` on average, with up to ``burst`` at once. The gateway enforces it
/// with a token bucket per key (`TokenBucket` in TernGateway; docs/security.md).
///
/// The names follow the common gateways': Kong's rate-limiting plugin counts requests per
/// `second`, `minute` and `hour` (the values of ``Period``); Envoy's local rate limit calls the
/// bucket's capacity `max_tokens` — here ``burst``, as NGINX's `limit_req` names it.
///
/// JSON (``APIKeyDocument/rateLimit``): `{"requests": 10, "per": "second", "burst": 20}`.
public struct RateLimit: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The time unit of a rate.
    public enum Period: String, Codable, Sendable, CaseIterable {
        case second, minute, hour

        /// Its length in seconds (1, 60, 3600).
        public var seconds: Int {
            switch self {
            case .second: 1
            case .minute: 60
            case .hour: 3600
            }
        }

        /// Its one-letter form in `10/s`.
        public var letter: String { String(rawValue.prefix(1)) }
    }

    /// Requests allowed per ``per`` on average, ≥ 1.
    public var requests: Int
    /// The time unit of ``requests``.
    public var per: Period
    /// Requests allowed at once (the bucket's capacity), ≥ 1; ``requests`` when not given.
    public var burst: Int

    /// The largest ``requests`` and ``burst`` accepted (a limit above it is no limit on one machine).
    public static let maximum = 1_000_000

    /// Memberwise initialiser; the values are not checked (``parse(_:burst:)`` checks them).
    public init(requests: Int, per: Period, burst: Int) {
        self.requests = requests
        self.per = per
        self.burst = burst
    }

    /// The rate in requests per second (``requests`` / the period's seconds): the bucket's refill.
    public var perSecond: Double { Double(requests) / Double(per.seconds) }

    /// `10/s`, or `10/s burst 20` when the burst is not the rate's count.
    public var description: String {
        let rate = "\(requests)/\(per.letter)"
        return burst == requests ? rate : "\(rate) burst \(burst)"
    }

    /// A rate limit from `--rate-limit` text (`REQUESTS/PERIOD`: `10/s`, `600/m`, `1000/h`;
    /// `sec`, `second`, `min`, `minute`, `hour` are accepted too) and `--burst` (default: the
    /// rate's requests).
    /// - Throws: ``RateLimit/Invalid`` with a message that says what is accepted.
    public static func parse(_ text: String, burst: Int? = nil) throws -> RateLimit {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let requests = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let per = period(named: parts[1].trimmingCharacters(in: .whitespaces).lowercased())
        else {
            throw Invalid(message: "rate limit \"\(text)\" is not REQUESTS/PERIOD; write e.g. 10/s, 600/m or 1000/h")
        }
        let limit = RateLimit(requests: requests, per: per, burst: burst ?? requests)
        try limit.validate()
        return limit
    }

    /// Checks the bounds: ``requests`` and ``burst`` in 1…``maximum``.
    /// - Throws: ``RateLimit/Invalid`` naming the value and the bounds.
    public func validate() throws {
        guard (1...Self.maximum).contains(requests) else {
            throw Invalid(message: "rate limit requests must be 1 to \(Self.maximum) per \(per.rawValue); got \(requests)")
        }
        guard (1...Self.maximum).contains(burst) else {
            throw Invalid(message: "rate limit burst must be 1 to \(Self.maximum); got \(burst)")
        }
    }

    private static func period(named name: String) -> Period? {
        switch name {
        case "s", "sec", "second": .second
        case "m", "min", "minute": .minute
        case "h", "hour": .hour
        default: nil
        }
    }

    /// A rate limit that cannot be used; ``message`` says what to write instead.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        /// What is wrong and what is accepted.
        public var message: String
        /// An error saying `message`.
        public init(message: String) { self.message = message }
        /// The message.
        public var description: String { message }
    }
}
