import Logging
import ServiceLifecycle
import TernCore

/// Settings of the autoscaler service.
public struct AutoscalerConfiguration: Sendable {
    /// How often in-flight requests are sampled. Default 1 s.
    public var sampleInterval: Duration
    /// How often a scaling decision is made (Cortex's tick). Default 10 s.
    public var tick: Duration

    /// Creates a configuration; defaults as documented on each property.
    public init(sampleInterval: Duration = .seconds(1), tick: Duration = .seconds(10)) {
        self.sampleInterval = sampleInterval
        self.tick = tick
    }
}

/// Runs a ``ScalingDecider`` per API: samples in-flight requests from its `InFlightSource` (the
/// gateway, or ``SummedInFlightSource`` over several) every `sampleInterval`, decides every `tick`, and calls the backend only when the desired replica
/// count differs from the current one.
///
/// Every wait and every `now` goes through `clock` (`ContinuousClock` in `tern serve`), so tests
/// drive the ticks with a manual clock instead of sleeping.
public actor Autoscaler<C: Clock>: ScalingRegistry, Service where C.Duration == Duration {
    private let configuration: AutoscalerConfiguration
    private let clock: C
    private let backend: any ReplicaScaler
    private let inFlight: any InFlightSource
    private let logger: Logger
    private var deciders: [String: ScalingDecider<C.Instant>] = [:]
    private var lastDecisions: [String: ScalingDecision] = [:]

    /// Creates the autoscaler; `inFlight` gives the in-flight requests of each API, `clock` the
    /// time its samples and decisions are taken at and its sleeps between them.
    public init(
        configuration: AutoscalerConfiguration = AutoscalerConfiguration(), clock: C, backend: any ReplicaScaler,
        inFlight: any InFlightSource, logger: Logger
    ) {
        self.configuration = configuration
        self.clock = clock
        self.backend = backend
        self.inFlight = inFlight
        self.logger = logger
    }

    public func track(_ spec: APISpec) {
        if var decider = deciders[spec.name] {
            decider.spec = spec.autoscaling
            deciders[spec.name] = decider
        } else {
            deciders[spec.name] = ScalingDecider(spec: spec.autoscaling)
        }
    }

    public func untrack(api: String) {
        deciders.removeValue(forKey: api)
        lastDecisions.removeValue(forKey: api)
    }

    public func awaken(api: String) async {
        guard deciders[api] != nil else { return }
        guard let requested = await backend.requestedReplicas(api: api), requested == 0 else { return }
        deciders[api]?.awaken(at: clock.now)
        logger.info("scaling from zero", metadata: ["api": "\(api)"])
        await backend.setReplicas(api: api, count: 1)
    }

    public func averageInFlight(api: String) -> Double? {
        deciders[api]?.averageInFlight(at: clock.now)
    }

    /// The last decision for `api` (for status and benchmarks).
    public func lastDecision(api: String) -> ScalingDecision? {
        lastDecisions[api]
    }

    /// Samples and decides until graceful shutdown or cancellation. A graceful shutdown ends
    /// the wait between samples at once (services stop one after another, so every second an
    /// autoscaler took to notice would delay the replicas' stop).
    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.loop() }
    }

    private func loop() async throws {
        var sinceTick = Duration.zero
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await clock.sleep(for: configuration.sampleInterval)
            } catch {
                return
            }
            await sample()
            sinceTick += configuration.sampleInterval
            if sinceTick >= configuration.tick {
                sinceTick = .zero
                await decideAll()
            }
        }
    }

    private func sample() async {
        let now = clock.now
        for api in deciders.keys {
            let count = await inFlight.inFlight(api: api)
            deciders[api]?.record(inFlight: Double(count), at: now)
        }
    }

    private func decideAll() async {
        let now = clock.now
        for api in Array(deciders.keys) {
            guard let current = await backend.requestedReplicas(api: api), var decider = deciders[api] else { continue }
            let decision = decider.decide(currentReplicas: current, at: now)
            guard deciders[api] != nil else { continue }  // untracked while we awaited
            deciders[api] = decider
            lastDecisions[api] = decision
            if decision.desiredReplicas != current {
                logger.info(
                    "autoscaling", metadata: [
                        "api": "\(api)", "from": "\(current)", "to": "\(decision.desiredReplicas)",
                        "avg_in_flight": "\(decision.averageInFlight ?? 0)",
                    ])
                await backend.setReplicas(api: api, count: decision.desiredReplicas)
            }
        }
    }
}

extension Autoscaler where C == ContinuousClock {
    /// Creates the autoscaler on the continuous clock (`tern serve`'s); `inFlight` gives the
    /// in-flight requests of each API.
    public init(
        configuration: AutoscalerConfiguration = AutoscalerConfiguration(), backend: any ReplicaScaler,
        inFlight: any InFlightSource, logger: Logger
    ) {
        self.init(configuration: configuration, clock: ContinuousClock(), backend: backend, inFlight: inFlight, logger: logger)
    }
}
