/// Exponential restart backoff for crashed replicas (as Kubernetes' CrashLoopBackOff: the delay
/// doubles after each consecutive failure, up to a cap, and resets after a replica stayed ready
/// for `resetAfter`).
///
/// Pure: the caller passes the failure count and decides when to sleep.
public struct RestartPolicy: Sendable, Equatable {
    /// Delay after the first failure. Default 1 s.
    public var initialDelay: Duration
    /// Longest delay. Default 60 s.
    public var maxDelay: Duration
    /// A replica that was ready this long has its failure count reset. Default 60 s.
    public var resetAfter: Duration

    /// Creates a policy; defaults as documented on each property.
    public init(initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60), resetAfter: Duration = .seconds(60)) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.resetAfter = resetAfter
    }

    /// The consecutive-failure count once a run has ended, before the restart counts as one more:
    /// `count`, or 0 when the run had been ready for at least ``resetAfter``. `readyFor` is how
    /// long it was ready before it exited, nil when it never was.
    public func consecutiveFailures(_ count: Int, afterRunReadyFor readyFor: Duration?) -> Int {
        guard let readyFor, readyFor >= resetAfter else { return count }
        return 0
    }

    /// The delay before restart number `consecutiveFailures` (1 = first failure):
    /// `initialDelay × 2^(consecutiveFailures − 1)`, capped at `maxDelay`.
    public func delay(afterConsecutiveFailures consecutiveFailures: Int) -> Duration {
        guard consecutiveFailures > 0 else { return .zero }
        let exponent = min(consecutiveFailures - 1, 30)
        let delay = initialDelay * (1 << exponent)
        return min(delay, maxDelay)
    }
}
