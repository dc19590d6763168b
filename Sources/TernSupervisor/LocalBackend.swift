import Foundation
import Logging
import TernCore

/// Settings of the local backend.
public struct LocalBackendConfiguration: Sendable {
    /// Python interpreter that runs replicas (a name on `PATH` or a path). Default `python3`.
    public var python: String
    /// Folder holding the unpacked `tern_runtime` package (goes on `PYTHONPATH`).
    public var runtimePath: String
    /// Folder for replica sockets and spec files (`TERN_HOME/run`).
    public var runDirectory: String
    /// Folder for API logs (`TERN_HOME/logs`).
    public var logDirectory: String
    /// Cap of one API log file in bytes, past which it is rotated to `<api>.log.1` (so an API's
    /// logs take at most about twice this); 0 or less: no cap. Default 64 MiB
    /// (`tern serve --max-log-bytes`).
    public var maxLogBytes: Int64
    /// The default of ``maxLogBytes``: 64 MiB.
    public static let defaultMaxLogBytes: Int64 = 64 << 20
    /// Restart backoff of crashed replicas.
    public var restartPolicy: RestartPolicy
    /// How long a stopping replica may take to finish in-flight requests before SIGKILL. Default 10 s.
    public var stopGracePeriod: Duration
    /// CPU capacity in millicores that replicas' `compute.cpu` requests share; nil (the default)
    /// means this machine's cores × 1000 (`tern serve --cpus`).
    public var cpuCapacityMillicores: Int?
    /// Memory capacity in bytes that replicas' `compute.mem` requests share; nil (the default)
    /// means `MemTotal` of `/proc/meminfo` (`tern serve --memory`).
    public var memoryCapacityBytes: Int64?
    /// How `compute.mem_limit` is enforced. Default ``MemoryEnforcement/automatic``.
    public var memoryEnforcement: MemoryEnforcement
    /// Start-up budget and liveness probe of replicas. Default ``HealthCheckPolicy/init(startupTimeout:healthInterval:healthTimeout:failureThreshold:)``
    /// with its defaults (300 s to load; a probe every 5 s, 5 s timeout, killed after 3 failures in a row).
    public var healthChecks: HealthCheckPolicy
    /// Folder of the virtual environments built from projects' `requirements.txt`
    /// (``DependencyInstaller``); nil (the default) means `venvs` beside ``runDirectory``
    /// (`TERN_HOME/venvs`).
    public var venvDirectory: String?
    /// The clock every wait of the backend and its replicas sleeps on (socket and compute polls,
    /// restart backoff, probe interval, stop grace, rolling-update steps). Default
    /// `ContinuousClock()`; tests pass a manual clock.
    public var clock: any Clock<Duration>
    /// Told of replica restarts and dependency installs (metrics); nil (the default): nobody.
    public var observer: (any PlatformObserver)?

    /// Creates a configuration; defaults as documented on each property.
    public init(
        python: String = "python3", runtimePath: String, runDirectory: String, logDirectory: String,
        restartPolicy: RestartPolicy = RestartPolicy(), stopGracePeriod: Duration = .seconds(10),
        cpuCapacityMillicores: Int? = nil, memoryCapacityBytes: Int64? = nil,
        memoryEnforcement: MemoryEnforcement = .automatic, healthChecks: HealthCheckPolicy = HealthCheckPolicy(),
        venvDirectory: String? = nil, maxLogBytes: Int64 = LocalBackendConfiguration.defaultMaxLogBytes, clock: any Clock<Duration> = ContinuousClock(),
        observer: (any PlatformObserver)? = nil
    ) {
        self.observer = observer
        self.clock = clock
        self.maxLogBytes = maxLogBytes
        self.python = python
        self.runtimePath = runtimePath
        self.runDirectory = runDirectory
        self.logDirectory = logDirectory
        self.restartPolicy = restartPolicy
        self.stopGracePeriod = stopGracePeriod
        self.cpuCapacityMillicores = cpuCapacityMillicores
        self.memoryCapacityBytes = memoryCapacityBytes
        self.memoryEnforcement = memoryEnforcement
        self.healthChecks = healthChecks
        self.venvDirectory = venvDirectory
    }
}

/// The local backend: runs each API's replicas as process groups on this machine.
///
/// A new revision (or `refresh`) is rolled out replica by replica as ``RolloutPlanner`` allows
/// under `update_strategy` (`max_surge`, `max_unavailable`): new replicas start, and old ones
/// are drained and stopped only as new ones become ready, so a failing revision never takes the
/// serving one below `desired − max_unavailable` ready replicas.
///
/// Every replica first reserves its `compute` request from the machine's capacity
/// (``ResourcePlanner``); one that does not fit waits, and the API shows `compute unavailable`.
/// `compute.mem` is a reservation: a replica over it serves on and the API's message says so
/// (``MemoryRequestWatch``). `compute.mem_limit` is a limit (``MemoryEnforcement``): a replica over
/// it is killed and the API shows `error (out of memory)`. See docs/resources.md.
///
/// A revision whose project has a `requirements.txt` starts its replicas only once
/// ``DependencyInstaller`` has its virtual environment ready (``DependencyPhase``); until then
/// the API is `updating`, and a failed install makes it `error` while older replicas keep
/// serving. See docs/dependencies.md.
///
/// BatchAPI, TaskAPI and AsyncAPI revisions run no replicas: their workers are started as
/// ``WorkerBackend`` groups, with the same environment, compute reservation, memory limit and
/// log as replicas.
public actor LocalBackend: ReplicaBackend, WorkerBackend {
    private struct ManagedAPI {
        var deployment: Deployment
        /// Replicas wanted for the current revision (the autoscaler moves this).
        var desired: Int
        /// Replicas of the current revision.
        var current: [ReplicaRunner]
        /// Replicas of older revisions still running during a rolling update.
        var previous: [ReplicaRunner]
        var log: APILog
        /// The current revision's `requirements.txt` environment.
        var dependencies: DependencyPhase = .notNeeded
        /// Worker groups of jobs and queues (``WorkerBackend``), by group id.
        var workerGroups: [String: WorkerGroupState] = [:]
    }

    /// A worker group and its processes (finished workers stay listed until the group stops).
    private struct WorkerGroupState {
        var group: WorkerGroup
        var runners: [ReplicaRunner] = []
    }

    private let configuration: LocalBackendConfiguration
    private let registry: any ReplicaRegistry
    private let logger: Logger
    private var apis: [String: ManagedAPI] = [:]
    private var rollouts: [String: Task<Void, Never>] = [:]
    /// Replicas being drained and stopped (scale-down, end of an update).
    private var retiring: [ReplicaRunner] = []
    private let compute: ComputePool
    private let memoryLimiter: any MemoryLimiter
    private let installer: DependencyInstaller
    private let clock: SupervisorClock
    /// ``collectGarbage()`` was called while an install was in progress: it runs once none is.
    private var collectionWanted = false

    /// Creates the backend; replicas are attached to `registry` once they start.
    ///
    /// Detects the machine's capacity (``MachineResources/detect(millicores:memoryBytes:)``) and
    /// the memory limiter, and logs both.
    public init(configuration: LocalBackendConfiguration, registry: any ReplicaRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.clock = SupervisorClock(configuration.clock)
        let capacity = MachineResources.detect(
            millicores: configuration.cpuCapacityMillicores, memoryBytes: configuration.memoryCapacityBytes)
        self.compute = ComputePool(capacity: capacity)
        logger.info("compute capacity for replicas: \(capacity.summary)")
        self.memoryLimiter = MemoryLimiters.make(configuration.memoryEnforcement, logger: logger)
        let venvs =
            configuration.venvDirectory
            ?? URL(fileURLWithPath: configuration.runDirectory).deletingLastPathComponent().appendingPathComponent("venvs").path
        self.installer = DependencyInstaller(root: venvs, python: configuration.python, logger: logger)
    }

    /// The capacity replicas' `compute` requests share.
    public nonisolated var computeCapacity: ResourcePlanner.Capacity { compute.capacity }

    /// Path of an API's log file.
    public func logPath(api: String) -> String {
        configuration.logDirectory + "/" + api + ".log"
    }

    public func apply(_ deployment: Deployment) async {
        await apply(deployment, refreshing: false)
    }

    /// ``apply(_:)``; a refresh (the same revision again) keeps the revision's prepared
    /// environment when its interpreter is still there, so it neither probes nor shows
    /// `installing dependencies`.
    private func apply(_ deployment: Deployment, refreshing: Bool) async {
        let name = deployment.spec.name
        let prepared = refreshing ? apis[name]?.dependencies : nil
        let autoscaling = deployment.spec.autoscaling
        let serves = deployment.spec.kind.servesRequests
        if var managed = apis[name] {
            // A new revision keeps the current (autoscaled) count, clamped to the new bounds. Job
            // and queue APIs run no replicas, only workers (started by the job service).
            managed.desired = serves ? min(max(managed.desired, autoscaling.minReplicas), autoscaling.maxReplicas) : 0
            managed.deployment = deployment
            managed.previous += managed.current
            managed.current = []
            apis[name] = managed
            await managed.log.append(
                [serves
                    ? "rolling update to revision \(deployment.revision) (\(managed.desired) replica(s))"
                    : "revision \(deployment.revision) deployed (\(Self.workersNote(deployment.spec.kind)))"],
                source: "tern")
        } else {
            let log = APILog(path: logPath(api: name), maxBytes: configuration.maxLogBytes)
            let replicas = serves ? max(deployment.initialReplicas ?? autoscaling.initReplicas, 0) : 0
            apis[name] = ManagedAPI(deployment: deployment, desired: replicas, current: [], previous: [], log: log)
            await log.append(
                [serves
                    ? "deploying revision \(deployment.revision) with \(replicas) replica(s)"
                    : "deploying revision \(deployment.revision) (\(Self.workersNote(deployment.spec.kind)))"],
                source: "tern")
        }
        if case .ready(let python)? = prepared, FileManager.default.isExecutableFile(atPath: python) {
            apis[name]!.dependencies = .ready(python: python)
        } else if case .notNeeded? = prepared {
            apis[name]!.dependencies = .notNeeded
        } else {
            prepareDependencies(api: name)
        }
        await reconcile(api: name)
    }

    /// Sets the current revision's ``DependencyPhase``: ``DependencyPhase/notNeeded`` without a
    /// `requirements.txt`; otherwise installing, until ``DependencyInstaller`` answers (in the
    /// background) and ``dependenciesPrepared(api:revision:result:)`` resumes the rollout.
    private func prepareDependencies(api: String) {
        guard let managed = apis[api] else { return }
        let deployment = managed.deployment
        let requirements = deployment.projectDirectory + "/" + DependencyPhase.requirementsFile
        guard FileManager.default.fileExists(atPath: requirements) else {
            apis[api]!.dependencies = .notNeeded
            return
        }
        apis[api]!.dependencies = .installing(since: .now)
        let log = managed.log
        let observer = configuration.observer
        Task {
            let started = ContinuousClock.now
            let result: Result<DependencyInstaller.Prepared, DependencyInstaller.InstallError>
            do {
                result = .success(
                    try await self.installer.prepare(
                        requirements: requirements, projectDirectory: deployment.projectDirectory,
                        output: { lines, source in await log.append(lines, source: source) }))
            } catch let error as DependencyInstaller.InstallError {
                result = .failure(error)
            } catch {
                result = .failure(.init(message: "\(error)"))
            }
            let outcome: DependencyInstallOutcome =
                switch result {
                case .success(let prepared): prepared.reused ? .reused : .installed
                case .failure: .failed
                }
            observer?.dependenciesPrepared(api: api, outcome: outcome, duration: started.duration(to: .now))
            await self.dependenciesPrepared(api: api, revision: deployment.revision, result: result)
        }
    }

    private func dependenciesPrepared(
        api: String, revision: Int, result: Result<DependencyInstaller.Prepared, DependencyInstaller.InstallError>
    ) async {
        defer { Task { await self.collectGarbageIfWanted() } }
        // A newer revision (or a removal) came meanwhile: it has its own install.
        guard let managed = apis[api], managed.deployment.revision == revision,
            case .installing = managed.dependencies
        else { return }
        switch result {
        case .success(let prepared):
            apis[api]!.dependencies = .ready(python: prepared.python)
            let how = prepared.reused ? "reusing" : "installed"
            await managed.log.append(
                ["\(DependencyPhase.requirementsFile): \(how) environment \(prepared.key); replicas run \(prepared.python)"],
                source: "tern")
            await reconcile(api: api)
            for id in apis[api]?.workerGroups.keys.sorted() ?? [] { await reconcileWorkers(api: api, group: id) }
        case .failure(let error):
            apis[api]!.dependencies = .failed(error.message)
            await managed.log.append(
                ["revision \(revision): installing \(DependencyPhase.requirementsFile) failed: \(error.message)"], source: "tern")
        }
    }

    /// Restarts every replica of `api` as a rolling update of the same revision.
    /// How the workers of a job or queue API start, for its log.
    private static func workersNote(_ kind: APIKind) -> String {
        kind == .asyncAPI ? "AsyncAPI: workers scale with its queue" : "\(kind.rawValue): workers start with each job"
    }

    public func refresh(api: String) async {
        guard let managed = apis[api] else { return }
        guard managed.deployment.spec.kind.servesRequests else {
            // No replicas to roll: the workers are restarted (a held item goes back to its queue).
            await managed.log.append(["restarting the workers"], source: "tern")
            for (id, var state) in managed.workerGroups {
                retire(state.runners)
                state.runners = []
                apis[api]!.workerGroups[id] = state
                await reconcileWorkers(api: api, group: id)
            }
            return
        }
        await apply(managed.deployment, refreshing: true)
    }

    public func remove(api: String) async {
        rollouts.removeValue(forKey: api)?.cancel()
        guard let managed = apis.removeValue(forKey: api) else { return }
        await stopAll(managed.current + managed.previous + managed.workerGroups.values.flatMap(\.runners))
        await managed.log.append(["API deleted; all replicas stopped"], source: "tern")
        await managed.log.close()  // followers read that line, then end
    }

    public func setReplicas(api: String, count: Int) async {
        guard let managed = apis[api], managed.deployment.spec.kind.servesRequests else { return }
        apis[api]!.desired = max(0, count)
        await apis[api]!.log.append(["scaling to \(max(0, count)) replica(s)"], source: "tern")
        await reconcile(api: api)
    }

    public func requestedReplicas(api: String) async -> Int? {
        apis[api]?.desired
    }

    public func status(api: String) async -> BackendAPIStatus? {
        guard let managed = apis[api] else { return nil }
        var current: [ReplicaSnapshot] = []
        for runner in managed.current { current.append(await runner.snapshot) }
        var previous: [ReplicaSnapshot] = []
        for runner in managed.previous { previous.append(await runner.snapshot) }
        let derived = StatusDeriver.derive(api: api, requested: managed.desired, current: current, previous: previous)
        return managed.dependencies.applied(to: derived, api: api, revision: managed.deployment.revision, now: .now)
    }

    /// The lines of `TERN_HOME/logs/<api>.log` (``APILogReader``); following only while the
    /// backend runs the API (its ``APILog`` wakes the reader on each append).
    public func logs(
        api: String, replica: String?, follow: Bool, tail: Int?
    ) async -> AsyncThrowingStream<LogLine, any Error> {
        let wake = follow ? await apis[api]?.log.watch() : nil
        return APILogReader(path: logPath(api: api), tail: tail, replica: replica, wake: wake).stream()
    }

    public func shutdown() async {
        for task in rollouts.values { task.cancel() }
        rollouts.removeAll()
        let all = apis.values.flatMap { $0.current + $0.previous + $0.workerGroups.values.flatMap(\.runners) } + retiring
        let logs = apis.values.map(\.log)
        apis.removeAll()
        for log in logs { await log.close() }
        await stopAll(all)
        await installer.shutdown()
        memoryLimiter.shutdown()
    }

    // MARK: Garbage collection

    /// Every runner: replicas of current and older revisions, workers, and those draining.
    private var allRunners: [ReplicaRunner] {
        apis.values.flatMap { $0.current + $0.previous + $0.workerGroups.values.flatMap(\.runners) } + retiring
    }

    public func projectDirectoriesInUse() -> Set<String> {
        Set(apis.values.map(\.deployment.projectDirectory) + allRunners.map(\.launch.deployment.projectDirectory))
    }

    /// Deletes the `requirements.txt` environments under `TERN_HOME/venvs` that neither a
    /// running replica or worker (draining ones included) nor a current revision uses
    /// (``DependencyInstaller/sweep(keeping:)``). While a revision's install is in progress its
    /// environment is not known yet, so the collection waits until no install is in progress.
    public func collectGarbage() async {
        let installing = apis.values.contains { if case .installing = $0.dependencies { true } else { false } }
        guard !installing else {
            collectionWanted = true
            return
        }
        collectionWanted = false
        var pythons = Set(allRunners.map(\.launch.python))
        for managed in apis.values {
            if case .ready(let python) = managed.dependencies { pythons.insert(python) }
        }
        await installer.sweep(keepingPythons: pythons)
    }

    private func collectGarbageIfWanted() async {
        if collectionWanted { await collectGarbage() }
    }

    /// Brings the API's replicas towards its desired state: one planner step now, and a
    /// background loop while a rolling update is in progress.
    private func reconcile(api: String) async {
        guard await step(api: api) else { return }
        guard rollouts[api] == nil else { return }
        rollouts[api] = Task {
            while !Task.isCancelled {
                try? await self.clock.sleep(for: .milliseconds(100))
                guard await self.step(api: api) else { break }
            }
            self.rolloutFinished(api: api)
        }
    }

    private func rolloutFinished(api: String) {
        rollouts[api] = nil
    }

    /// Applies one planner step; returns true while more steps are needed.
    private func step(api: String) async -> Bool {
        guard var managed = apis[api] else { return false }
        // Replicas of this revision wait for its requirements.txt environment; older ones serve.
        guard managed.dependencies.allowsReplicas else { return false }
        let oldReady = await readyRunners(managed.previous)
        let newReady = await readyRunners(managed.current)
        let strategy = managed.deployment.spec.updateStrategy.resolve(replicas: managed.desired)
        // Without older replicas there is nothing to protect: start or stop to `desired` at once.
        if managed.previous.isEmpty {
            if managed.current.count < managed.desired {
                let added = (managed.current.count..<managed.desired).map { _ in makeRunner(managed.deployment, log: managed.log) }
                managed.current += added
                apis[api] = managed
                for runner in added { await runner.start() }
            } else if managed.current.count > managed.desired {
                let ordered = newReady + managed.current.filter { runner in !newReady.contains { $0 === runner } }
                managed.current = Array(ordered.prefix(managed.desired))
                apis[api] = managed
                retire(Array(ordered.dropFirst(managed.desired)))
            }
            return false
        }
        let plan = RolloutPlanner.step(
            .init(
                desired: managed.desired, oldTotal: managed.previous.count, oldReady: oldReady.count,
                newTotal: managed.current.count, newReady: newReady.count),
            maxSurge: strategy.maxSurge, maxUnavailable: strategy.maxUnavailable)
        if plan.startNew > 0 {
            let added = (0..<plan.startNew).map { _ in makeRunner(managed.deployment, log: managed.log) }
            managed.current += added
            for runner in added { await runner.start() }
        }
        if plan.stopOld > 0 {
            let notReady = managed.previous.filter { runner in !oldReady.contains { $0 === runner } }
            let victims = Array((notReady + oldReady).prefix(plan.stopOld))
            managed.previous.removeAll { runner in victims.contains { $0 === runner } }
            retire(victims)
        }
        apis[api] = managed
        if plan.stopOld > 0 { DeployCrashHook.reach(.rolling) }
        if managed.previous.isEmpty {
            await managed.log.append(["revision \(managed.deployment.revision) rolled out"], source: "tern")
            DeployCrashHook.reach(.rolledOut)
            return await step(api: api)  // starts the rest of the new revision, if any
        }
        return true
    }

    private func readyRunners(_ runners: [ReplicaRunner]) async -> [ReplicaRunner] {
        var ready: [ReplicaRunner] = []
        for runner in runners where await runner.state == .ready { ready.append(runner) }
        return ready
    }

    private func makeRunner(_ deployment: Deployment, log: APILog, worker: WorkerGroup? = nil, id: String? = nil) -> ReplicaRunner {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var launch = ReplicaRunner.Launch(
            deployment: deployment, replicaID: id ?? "\(deployment.spec.name)-\(suffix)",
            python: apis[deployment.spec.name]?.dependencies.python(configured: configuration.python) ?? configuration.python,
            runtimePath: configuration.runtimePath, runDirectory: configuration.runDirectory,
            restartPolicy: configuration.restartPolicy, stopGracePeriod: configuration.stopGracePeriod,
            healthChecks: configuration.healthChecks, compute: compute, memoryLimiter: memoryLimiter, clock: clock)
        launch.worker = worker
        launch.observer = configuration.observer
        return ReplicaRunner(launch: launch, registry: registry, log: log, logger: logger)
    }

    // MARK: WorkerBackend

    public func runWorkers(_ group: WorkerGroup) async {
        guard apis[group.api] != nil else { return }
        apis[group.api]!.workerGroups[group.id, default: WorkerGroupState(group: group)].group = group
        await reconcileWorkers(api: group.api, group: group.id)
    }

    public func stopWorkers(api: String, group: String) async {
        guard let state = apis[api]?.workerGroups.removeValue(forKey: group) else { return }
        await stopAll(state.runners)
    }

    public func workers(api: String, group: String) async -> [WorkerSnapshot] {
        guard let managed = apis[api], let state = managed.workerGroups[group] else { return [] }
        var snapshots: [WorkerSnapshot] = []
        for runner in state.runners { snapshots.append(await runner.workerSnapshot) }
        if !managed.dependencies.allowsReplicas, snapshots.count < state.group.count {
            let waiting: String
            if case .failed(let message) = managed.dependencies {
                waiting = "installing \(DependencyPhase.requirementsFile) failed: \(message)"
            } else {
                waiting = "waiting for \(DependencyPhase.requirementsFile) to install"
            }
            snapshots += (snapshots.count..<state.group.count).map {
                WorkerSnapshot(
                    id: Self.workerID(state.group, index: $0), state: .starting, restarts: 0, consecutiveFailures: 0,
                    lastExit: nil, lastExitCode: nil, outOfMemory: false, lastOutputLine: nil, waiting: waiting)
            }
        }
        return snapshots
    }

    /// `<job id>-<n>` for a job's workers, `<api>-async-<n>` for a queue's.
    private static func workerID(_ group: WorkerGroup, index: Int) -> String {
        group.id == "async" ? "\(group.api)-async-\(index)" : "\(group.id)-\(index)"
    }

    /// Starts missing workers of the group (once the API's dependencies are ready) and stops
    /// those beyond its count, newest first.
    private func reconcileWorkers(api: String, group id: String) async {
        guard let managed = apis[api], var state = managed.workerGroups[id], managed.dependencies.allowsReplicas else { return }
        var started: [ReplicaRunner] = []
        var index = state.runners.count
        while state.runners.count < state.group.count {
            let runner = makeRunner(
                managed.deployment, log: managed.log, worker: state.group, id: Self.workerID(state.group, index: index))
            index += 1
            state.runners.append(runner)
            started.append(runner)
        }
        let extra = Array(state.runners.dropFirst(max(state.group.count, 0)))
        state.runners.removeLast(extra.count)
        apis[api]!.workerGroups[id] = state
        for runner in started { await runner.start() }
        retire(extra)
    }

    /// Stops `runners` in the background (drain, then stop); ``shutdown()`` still waits for them.
    private func retire(_ runners: [ReplicaRunner]) {
        guard !runners.isEmpty else { return }
        retiring += runners
        Task {
            await self.stopAll(runners)
            self.retiring.removeAll { runner in runners.contains { $0 === runner } }
        }
    }

    private func stopAll(_ runners: [ReplicaRunner]) async {
        await withTaskGroup(of: Void.self) { group in
            for runner in runners { group.addTask { await runner.stop() } }
        }
    }
}
