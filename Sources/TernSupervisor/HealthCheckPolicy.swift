/// When the supervisor gives up on a replica: a start-up budget for loading the predictor, and a
/// liveness probe once the replica serves (C27, C31). The two are separate, so a slow model load
/// inside the budget is never killed by liveness, and a hung replica is replaced in bounded time.
///
/// - Start-up: a replica whose worker sockets have not all appeared `startupTimeout` after its
///   process started (its predictor's `__init__` is still running) is killed with `SIGKILL` to
///   its group; its last exit is `init timed out after N s` and the API shows
///   `error (init failed)`. It is then restarted with the usual backoff.
/// - Liveness: while a replica is ready, a `health` frame goes to each of its workers every
///   `healthInterval` (``ReplicaRegistry/probe(api:replicaID:timeout:)``; answered on its own
///   connection and thread, so a long prediction never delays it). After `failureThreshold`
///   probes in a row without a 200 within `healthTimeout`, the replica is killed (`SIGKILL` to its
///   group; last exit `not answering health checks`) and restarted.
///
/// A hung replica is killed about `failureThreshold × max(healthInterval, healthTimeout)` after it
/// stopped answering: 15 s with the defaults.
public struct HealthCheckPolicy: Sendable, Equatable {
    /// How long a replica may take from its process start until every worker socket exists.
    /// Default 300 s (`tern serve --startup-timeout-seconds`).
    public var startupTimeout: Duration
    /// Time between the starts of two health probes of a ready replica. Default 5 s
    /// (`tern serve --health-interval-seconds`).
    public var healthInterval: Duration
    /// How long one probe waits for every worker's 200. Default 5 s.
    public var healthTimeout: Duration
    /// Failed probes in a row after which a ready replica is killed and restarted. Default 3.
    public var failureThreshold: Int

    /// Creates a policy; defaults as documented on each property.
    public init(
        startupTimeout: Duration = .seconds(300), healthInterval: Duration = .seconds(5),
        healthTimeout: Duration = .seconds(5), failureThreshold: Int = 3
    ) {
        self.startupTimeout = startupTimeout
        self.healthInterval = healthInterval
        self.healthTimeout = healthTimeout
        self.failureThreshold = max(1, failureThreshold)
    }

    /// What the supervisor does after one look at a starting replica's worker sockets.
    enum StartupStep: Sendable, Equatable {
        /// Every socket exists: attach the replica to the data plane.
        case attach
        /// Not yet, and within the budget: look again later.
        case wait
        /// Not yet, and ``HealthCheckPolicy/startupTimeout`` has passed: kill the replica.
        case kill
    }

    /// The step after a look at the sockets `elapsed` after the replica's process started (pure):
    /// sockets win over the budget, so a replica that gets ready at the last moment is kept.
    func startupStep(allSocketsExist: Bool, elapsed: Duration) -> StartupStep {
        if allSocketsExist { return .attach }
        return elapsed >= startupTimeout ? .kill : .wait
    }

    /// Looks at the sockets (`allSocketsExist`) every `pollInterval` on `clock` until
    /// ``startupStep(allSocketsExist:elapsed:)`` says attach or kill; nil when the task is
    /// cancelled first (the run ended). The budget counts from this call.
    func awaitStartup(
        pollInterval: Duration = .milliseconds(25), clock: SupervisorClock, allSocketsExist: @Sendable () -> Bool
    ) async -> StartupStep? {
        let start = clock.now
        while !Task.isCancelled {
            let step = startupStep(allSocketsExist: allSocketsExist(), elapsed: clock.now - start)
            if step != .wait { return step }
            try? await clock.sleep(for: pollInterval)
        }
        return nil
    }

    /// Counts consecutive failed probes of one run of a replica (pure).
    struct Liveness: Sendable, Equatable {
        let threshold: Int
        /// Failed probes since the last success.
        private(set) var consecutiveFailures = 0

        init(threshold: Int) {
            self.threshold = max(1, threshold)
        }

        /// Records one probe; returns true when the replica should be killed.
        mutating func record(healthy: Bool) -> Bool {
            consecutiveFailures = healthy ? 0 : consecutiveFailures + 1
            return consecutiveFailures >= threshold
        }
    }
}
