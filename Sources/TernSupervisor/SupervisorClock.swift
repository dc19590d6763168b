/// The supervisor's time: an injected `Clock<Duration>` read as the duration since the backend
/// started, so that instants of any clock can be stored and compared (production: a
/// `ContinuousClock`; tests: TernTesting's `ManualClock`, which moves only when told to).
///
/// Every wait of the supervisor goes through it: the worker-socket poll, the compute poll, the
/// restart backoff, the liveness probe interval, the drain-then-kill of a stop and the rolling
/// update's steps.
struct SupervisorClock: Sendable {
    /// The clock slept on.
    let clock: any Clock<Duration>
    private let reading: @Sendable () -> Duration

    /// Time starts now, at zero.
    init(_ clock: any Clock<Duration>) {
        self.clock = clock
        self.reading = Self.reading(clock)
    }

    private static func reading<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// The time since this value was made.
    var now: Duration { reading() }

    /// Sleeps for `duration` on the clock (returns at once for zero or less).
    /// - Throws: `CancellationError` when the task is cancelled first.
    func sleep(for duration: Duration) async throws {
        try await clock.sleep(for: duration)
    }

    /// Sleeps until ``now`` reaches `deadline`.
    /// - Throws: `CancellationError` when the task is cancelled first.
    func sleep(until deadline: Duration) async throws {
        try await clock.sleep(for: deadline - now)
    }
}
