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
    /// Restart backoff of crashed replicas.
    public var restartPolicy: RestartPolicy
    /// How long a stopping replica may take to finish in-flight requests before SIGKILL. Default 10 s.
    public var stopGracePeriod: Duration

    /// Creates a configuration; defaults as documented on each property.
    public init(
        python: String = "python3", runtimePath: String, runDirectory: String, logDirectory: String,
        restartPolicy: RestartPolicy = RestartPolicy(), stopGracePeriod: Duration = .seconds(10)
    ) {
        self.python = python
        self.runtimePath = runtimePath
        self.runDirectory = runDirectory
        self.logDirectory = logDirectory
        self.restartPolicy = restartPolicy
        self.stopGracePeriod = stopGracePeriod
    }
}

/// The local backend: runs each API's replicas as process groups on this machine.
///
/// A new revision starts a full set of new replicas next to the old ones; the old ones are
/// drained and stopped once every new one is ready, so a failing revision never takes the
/// serving one down.
public actor LocalBackend: ReplicaBackend {
    private struct ManagedAPI {
        var deployment: Deployment
        var current: [ReplicaRunner]
        var previous: [ReplicaRunner]
        var log: APILog
    }

    private let configuration: LocalBackendConfiguration
    private let registry: any ReplicaRegistry
    private let logger: Logger
    private var apis: [String: ManagedAPI] = [:]
    private var retirements: [String: Task<Void, Never>] = [:]
    /// Replicas being drained and stopped after a scale-down.
    private var retiring: [ReplicaRunner] = []

    /// Creates the backend; replicas are attached to `registry` once they start.
    public init(configuration: LocalBackendConfiguration, registry: any ReplicaRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
    }

    /// Path of an API's log file.
    public func logPath(api: String) -> String {
        configuration.logDirectory + "/" + api + ".log"
    }

    public func apply(_ deployment: Deployment) async {
        let name = deployment.spec.name
        let log = apis[name]?.log ?? APILog(path: logPath(api: name))
        // A new API starts init_replicas; a new revision keeps the current (autoscaled) count,
        // clamped to the new bounds.
        let autoscaling = deployment.spec.autoscaling
        let count = apis[name].map { min(max($0.current.count, autoscaling.minReplicas), autoscaling.maxReplicas) }
            ?? max(autoscaling.initReplicas, 0)
        let runners = (0..<count).map { _ in makeRunner(deployment, log: log) }
        var previous: [ReplicaRunner] = []
        if let existing = apis[name] {
            previous = existing.previous + existing.current
            retirements[name]?.cancel()
        }
        apis[name] = ManagedAPI(deployment: deployment, current: runners, previous: previous, log: log)
        await log.append(["deploying revision \(deployment.revision) with \(count) replica(s)"], source: "tern")
        for runner in runners { await runner.start() }
        if !previous.isEmpty {
            retirements[name] = Task { await self.retireWhenReplaced(api: name, revision: deployment.revision) }
        }
    }

    public func remove(api: String) async {
        retirements.removeValue(forKey: api)?.cancel()
        guard let managed = apis.removeValue(forKey: api) else { return }
        await stopAll(managed.current + managed.previous)
        await managed.log.append(["API deleted; all replicas stopped"], source: "tern")
    }

    public func setReplicas(api: String, count: Int) async {
        guard var managed = apis[api] else { return }
        let count = max(0, count)
        if count > managed.current.count {
            let added = (managed.current.count..<count).map { _ in makeRunner(managed.deployment, log: managed.log) }
            managed.current += added
            apis[api] = managed
            await managed.log.append(["scaling to \(count) replica(s)"], source: "tern")
            for runner in added { await runner.start() }
        } else if count < managed.current.count {
            // Remove replicas that are not serving first, then the newest.
            var ranked: [(runner: ReplicaRunner, ready: Bool)] = []
            for runner in managed.current { ranked.append((runner, await runner.state == .ready)) }
            let keep = ranked.filter(\.ready).map(\.runner) + ranked.filter { !$0.ready }.map(\.runner)
            let removed = Array(keep[count...])
            managed.current = Array(keep[..<count])
            apis[api] = managed
            await managed.log.append(["scaling to \(count) replica(s)"], source: "tern")
            retire(removed)
        }
    }

    public func requestedReplicas(api: String) async -> Int? {
        apis[api]?.current.count
    }

    public func status(api: String) async -> BackendAPIStatus? {
        guard let managed = apis[api] else { return nil }
        var current: [ReplicaSnapshot] = []
        for runner in managed.current { current.append(await ReplicaSnapshot(runner)) }
        var previous: [ReplicaSnapshot] = []
        for runner in managed.previous { previous.append(await ReplicaSnapshot(runner)) }
        return StatusDeriver.derive(
            api: api, requested: managed.current.count, current: current, previous: previous)
    }

    public func shutdown() async {
        for task in retirements.values { task.cancel() }
        retirements.removeAll()
        let all = apis.values.flatMap { $0.current + $0.previous } + retiring
        apis.removeAll()
        await stopAll(all)
    }

    /// Stops `runners` in the background (drain, then stop); ``shutdown()`` still waits for them.
    private func retire(_ runners: [ReplicaRunner]) {
        retiring += runners
        Task {
            await self.stopAll(runners)
            self.retiring.removeAll { runner in runners.contains { $0 === runner } }
        }
    }

    private func makeRunner(_ deployment: Deployment, log: APILog) -> ReplicaRunner {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let launch = ReplicaRunner.Launch(
            deployment: deployment, replicaID: "\(deployment.spec.name)-\(suffix)", python: configuration.python,
            runtimePath: configuration.runtimePath, runDirectory: configuration.runDirectory,
            restartPolicy: configuration.restartPolicy, stopGracePeriod: configuration.stopGracePeriod)
        return ReplicaRunner(launch: launch, registry: registry, log: log, logger: logger)
    }

    /// Waits until every replica of `revision` is ready, then drains and stops older replicas.
    private func retireWhenReplaced(api: String, revision: Int) async {
        while !Task.isCancelled {
            guard let managed = apis[api], managed.deployment.revision == revision else { return }
            var allReady = true
            for runner in managed.current where await runner.state != .ready { allReady = false }
            if allReady {
                let old = managed.previous
                apis[api]?.previous = []
                await managed.log.append(["revision \(revision) is ready; stopping \(old.count) replica(s) of older revisions"], source: "tern")
                await stopAll(old)
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func stopAll(_ runners: [ReplicaRunner]) async {
        await withTaskGroup(of: Void.self) { group in
            for runner in runners { group.addTask { await runner.stop() } }
        }
    }
}

/// What status derivation needs to know about one replica.
struct ReplicaSnapshot: Sendable {
    var document: ReplicaDocument
    var lastExitCode: Int32?
    var lastOutputLine: String?
    var consecutiveFailures: Int

    init(document: ReplicaDocument, lastExitCode: Int32?, lastOutputLine: String?, consecutiveFailures: Int) {
        self.document = document
        self.lastExitCode = lastExitCode
        self.lastOutputLine = lastOutputLine
        self.consecutiveFailures = consecutiveFailures
    }

    init(_ runner: ReplicaRunner) async {
        self.init(
            document: await runner.document, lastExitCode: await runner.lastExitCode,
            lastOutputLine: await runner.lastOutputLine, consecutiveFailures: await runner.consecutiveFailures)
    }
}

/// Derives an API's status from its replicas (pure).
///
/// A revision with no ready replica is never `live` (cortex#1680, kserve#1859: status must come
/// from readiness, not from "the process runs"); a crash loop of the new revision shows as an
/// error with the last line the replica printed, while older replicas keep serving.
enum StatusDeriver {
    /// Consecutive crashes (other than init failures) after which the API shows `error`.
    static let crashLoopThreshold = 3

    static func derive(
        api: String, requested: Int, current: [ReplicaSnapshot], previous: [ReplicaSnapshot]
    ) -> BackendAPIStatus {
        let documents = (current + previous).map(\.document)
        let readyCurrent = current.filter { $0.document.state == .ready }.count
        let ready = documents.filter { $0.state == .ready }.count
        // An init failure is reported at once; other crashes once they repeat (a single crash of
        // a live replica is a restart in progress, shown as `updating`).
        let failing = current.filter {
            $0.document.state != .ready
                && ($0.lastExitCode == 3 ? $0.consecutiveFailures > 0 : $0.consecutiveFailures >= crashLoopThreshold)
        }
        var status: APIStatus
        var message: String?
        if requested == 0 && documents.isEmpty {
            status = .scaledToZero
        } else if readyCurrent >= requested && previous.isEmpty {
            status = .live
        } else if let failed = failing.first {
            status = failed.lastExitCode == 3 ? .errorInitFailed : .error
            let reason = failed.lastOutputLine.map { ": \($0)" } ?? ""
            message = "replica \(failed.document.id) \(failed.document.lastExit ?? "failed")\(reason); run `tern logs \(api)` for details"
            if ready > 0 { message! += " (\(ready) replica(s) of an older revision keep serving)" }
        } else {
            status = .updating
        }
        return BackendAPIStatus(
            status: status, message: message, requestedReplicas: requested, readyReplicas: ready, replicas: documents)
    }
}
