import Logging
import TernCore
import TernScaling
import TernTesting
import Testing

/// In-flight requests per API, as the test sets them.
private actor SettableInFlight: InFlightSource {
    private var counts: [String: Int] = [:]
    func set(_ count: Int, api: String) { counts[api] = count }
    func inFlight(api: String) async -> Int { counts[api] ?? 0 }
}

/// An autoscaler on a manual clock (a sample every second, a decision every 2 s) over a
/// ``RecordingBackend`` that runs `spec`'s API; ``run(seconds:)`` moves time.
private struct Rig {
    let clock = ManualClock()
    let backend = RecordingBackend()
    let load = SettableInFlight()
    let autoscaler: Autoscaler<ManualClock>
    let spec: APISpec

    init(_ yaml: String) async throws {
        spec = try #require(try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml").apis.first)
        autoscaler = Autoscaler(
            configuration: AutoscalerConfiguration(sampleInterval: .seconds(1), tick: .seconds(2)), clock: clock,
            backend: backend, inFlight: load, logger: Logger(label: "test"))
        await backend.apply(Deployment(spec: spec, revision: 1, projectDirectory: "/project", environment: [:]))
        await autoscaler.track(spec)
        await backend.clearCalls()
    }

    /// Lets `seconds` of manual time pass, one sample interval at a time, and returns once the
    /// autoscaler has acted on them (it sleeps again).
    func run(seconds: Int) async {
        for _ in 0..<seconds {
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(1))
        }
        await clock.waitForSleepers(1)
    }

    /// The replica counts the autoscaler asked the backend for, in order.
    func scaledTo() async -> [Int] {
        await backend.commands.compactMap { if case .setReplicas(_, let count) = $0 { count } else { nil } }
    }
}

/// `iris`, 1 to 4 replicas, one request in flight per replica, upscaling at once.
private let upToFour = SpecYAML.realtime(
    name: "iris", minReplicas: 1, maxReplicas: 4,
    autoscaling: ["target_replica_concurrency": 1, "upscale_stabilization_period": "0s"])

@Suite struct AutoscalerTests {
    @Test func upscaleStepsAreBoundedByTheUpscaleFactorAndStopAtMaxReplicas() async throws {
        let rig = try await Rig(upToFour)
        await rig.load.set(10, api: "iris")
        let run = Task { try await rig.autoscaler.run() }
        defer { run.cancel() }

        // 10 in flight wants 10 replicas; each tick allows max(current + 1, ⌈current × 1.5⌉).
        await rig.run(seconds: 2)
        #expect(await rig.backend.commands == [.setReplicas(api: "iris", count: 2)])
        await rig.run(seconds: 2)
        #expect(await rig.scaledTo() == [2, 3])
        await rig.run(seconds: 4)
        #expect(await rig.scaledTo() == [2, 3, 4])
        #expect(await rig.backend.requestedReplicas(api: "iris") == 4)
        #expect(await rig.autoscaler.lastDecision(api: "iris")?.recommendation == 4)
    }

    @Test func scaleDownWaitsForTheStabilizationPeriodBeforeEachStep() async throws {
        let rig = try await Rig(
            SpecYAML.realtime(
                name: "iris", minReplicas: 1, maxReplicas: 4, initReplicas: 3,
                autoscaling: ["target_replica_concurrency": 1, "downscale_stabilization_period": "6s"]))
        let run = Task { try await rig.autoscaler.run() }
        defer { run.cancel() }

        // No traffic. The first decision (t = 2 s) starts the period: nothing until t = 8 s.
        await rig.run(seconds: 6)
        #expect(await rig.scaledTo() == [])
        await rig.run(seconds: 2)
        // One step down: min(3 − 1, ⌈3 × 0.75⌉) = 2.
        #expect(await rig.scaledTo() == [2])
        // The recommendations of 2 from t = 2…8 s hold the floor until they are 6 s old.
        await rig.run(seconds: 6)
        #expect(await rig.scaledTo() == [2])
        await rig.run(seconds: 2)
        #expect(await rig.scaledTo() == [2, 1])
        #expect(await rig.backend.requestedReplicas(api: "iris") == 1)
    }

    @Test func noBackendChangeWhileTheDecisionEqualsTheCurrentCount() async throws {
        let rig = try await Rig(
            SpecYAML.realtime(
                name: "iris", minReplicas: 1, maxReplicas: 10, initReplicas: 2,
                autoscaling: ["target_replica_concurrency": 2, "upscale_stabilization_period": "0s"]))
        await rig.load.set(4, api: "iris")
        let run = Task { try await rig.autoscaler.run() }
        defer { run.cancel() }

        await rig.run(seconds: 20)

        #expect(await rig.backend.commands == [])
        // One look at the current count per decision, nothing else.
        #expect(await rig.backend.calls == Array(repeating: .requestedReplicas(api: "iris"), count: 10))
        #expect(await rig.autoscaler.lastDecision(api: "iris")?.averageInFlight == 4)
    }

    @Test func awakenScalesFromZeroOnceAndHoldsOneReplicaForTheDownscalePeriod() async throws {
        let rig = try await Rig(
            SpecYAML.realtime(
                name: "zero", minReplicas: 0, maxReplicas: 2,
                autoscaling: ["downscale_stabilization_period": "4s"]))
        let run = Task { try await rig.autoscaler.run() }
        defer { run.cancel() }
        await rig.run(seconds: 6)  // idle at zero; the period started at t = 2 s
        #expect(await rig.backend.commands == [])

        await rig.autoscaler.awaken(api: "zero")  // a request arrives at t = 6 s
        await rig.autoscaler.awaken(api: "zero")  // and another: already one replica requested
        await rig.autoscaler.awaken(api: "unknown")
        #expect(await rig.backend.commands == [.setReplicas(api: "zero", count: 1)])
        #expect(!(await rig.backend.calls.contains(.requestedReplicas(api: "unknown"))))

        // Still no traffic: the woken replica stays for 4 s after the wake-up, then goes.
        await rig.run(seconds: 2)
        #expect(await rig.scaledTo() == [1])
        await rig.run(seconds: 2)
        #expect(await rig.scaledTo() == [1, 0])
    }

    @Test func anUntrackedAPIIsNoLongerScaled() async throws {
        let rig = try await Rig(upToFour)
        await rig.load.set(10, api: "iris")
        await rig.autoscaler.untrack(api: "iris")
        let run = Task { try await rig.autoscaler.run() }
        defer { run.cancel() }

        await rig.run(seconds: 6)

        #expect(await rig.backend.calls == [])
        #expect(await rig.autoscaler.lastDecision(api: "iris") == nil)
    }
}
