import TernCore

/// A token bucket: the decision of one API key's rate limit (``RateLimit``), pure and clocked
/// by its caller (``APIKeyGate`` passes a monotonic clock; tests pass chosen times).
///
/// The classic algorithm, as in RFC 2697 §3 (the committed bucket: size CBS, filled at the
/// rate CIR) and Envoy's local rate limit filter (`token_bucket`: `max_tokens`, refilled at
/// `tokens_per_fill` per `fill_interval`): the bucket holds at most ``capacity`` tokens and
/// starts full; it gains ``refillPerSecond`` tokens per second (continuously here, where Envoy
/// adds them at each fill interval); a request takes one token, and is refused when less than
/// one is left. So at most ``capacity`` requests pass at once, and ``refillPerSecond`` per
/// second on average after that.
struct TokenBucket: Sendable, Equatable {
    /// What ``take(now:)`` decided.
    enum Decision: Sendable, Equatable {
        /// A token was taken: the request may go on.
        case allowed
        /// No whole token is left: retry after this many seconds (whole, rounded up, ≥ 1: the
        /// `Retry-After` value, RFC 9110 §10.2.3), when one will be.
        case limited(retryAfter: Int)
    }

    /// The most tokens the bucket holds (the burst), > 0.
    let capacity: Double
    /// Tokens gained per second, > 0.
    let refillPerSecond: Double
    /// Tokens now (as of ``updated``), in 0…``capacity``.
    private(set) var tokens: Double
    /// The time of the last refill, in the caller's clock's seconds; never goes back.
    private(set) var updated: Double

    /// A full bucket at time `now` (seconds of the caller's clock).
    /// - Precondition: `capacity` and `refillPerSecond` > 0.
    init(capacity: Double, refillPerSecond: Double, now: Double) {
        precondition(capacity > 0 && refillPerSecond > 0, "a token bucket needs a positive capacity and rate")
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        tokens = capacity
        updated = now
    }

    /// The bucket of `limit`: capacity ``RateLimit/burst``, refill ``RateLimit/perSecond``.
    init(_ limit: RateLimit, now: Double) {
        self.init(capacity: Double(limit.burst), refillPerSecond: limit.perSecond, now: now)
    }

    /// Refills for the time since the last call, then takes one token if there is a whole one.
    /// A `now` before the last one (a clock that went back) refills nothing and does not move
    /// the bucket's time back, so the time is not counted twice when the clock catches up.
    mutating func take(now: Double) -> Decision {
        if now > updated {
            tokens = min(capacity, tokens + (now - updated) * refillPerSecond)
            updated = now
        }
        if tokens >= 1 - Self.slack {
            tokens = max(0, tokens - 1)
            return .allowed
        }
        let wait = (1 - tokens) / refillPerSecond
        return .limited(retryAfter: max(1, Int((wait - Self.slack).rounded(.up))))
    }

    /// A difference below this (in tokens, or seconds) is floating-point rounding, not time: 60
    /// one-second refills of a 1-per-minute bucket make 0.9999999999999999 tokens, and its
    /// 30-second wait computes as 30.000000000000004 s, which must not round up to 31.
    private static let slack = 1e-9
}
