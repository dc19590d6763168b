import TernCore

/// A ``ReplicaBackend`` that runs nothing and records every call, for unit tests of the code
/// that drives a backend (the control plane, the autoscaler) without processes or sockets.
///
/// It keeps a small model of each API with the local backend's rules, so the code under test
/// sees answers that change with its calls:
/// - ``apply(_:)`` of a new API requests `init_replicas`; of a running one, keeps the requested
///   count clamped to the new `[min_replicas, max_replicas]` and starts that many replicas of the
///   new revision at once (no surge limits), while the older revision's replicas keep running;
/// - replicas start in state `starting`, with ids `<api>-1`, `<api>-2`, … in order of creation;
///   the test makes them ready with ``markReady(api:count:)``, and once every requested replica
///   of the current revision is ready, the older revision's replicas are gone (the update is
///   done);
/// - ``setReplicas(api:count:)`` starts missing replicas, or stops extra ones (not-ready ones
///   first); ``refresh(api:)`` replaces every replica with a new one of the same revision;
/// - ``status(api:)`` derives the status from the replicas with ``StatusDeriver``, as the local
///   backend does, unless the test fixed it (``setStatus(_:api:)``) or replaced the replicas
///   (``setSnapshots(api:current:previous:)``).
///
/// Ready replicas are the API's ``endpoints(api:)``; when a ``ReplicaRegistry`` is given, a
/// replica is attached to it when it becomes ready and detached (grace zero) when it stops, as
/// the local backend attaches its replicas to the gateway.
///
/// ```swift
/// let backend = RecordingBackend()
/// let autoscaler = Autoscaler(clock: ManualClock(), backend: backend, inFlight: source, logger: logger)
/// // … drive it …
/// #expect(await backend.commands == [.setReplicas(api: "iris", count: 2)])
/// ```
public actor RecordingBackend: ReplicaBackend {
    /// One call to the backend, with its arguments.
    public enum Call: Sendable, Equatable, CustomStringConvertible {
        /// ``RecordingBackend/apply(_:)``.
        case apply(Deployment)
        /// ``RecordingBackend/remove(api:)``.
        case remove(api: String)
        /// ``RecordingBackend/setReplicas(api:count:)``.
        case setReplicas(api: String, count: Int)
        /// ``RecordingBackend/requestedReplicas(api:)``.
        case requestedReplicas(api: String)
        /// ``RecordingBackend/refresh(api:)``.
        case refresh(api: String)
        /// ``RecordingBackend/status(api:)``.
        case status(api: String)
        /// ``RecordingBackend/logs(api:replica:follow:tail:)``.
        case logs(api: String, replica: String?, follow: Bool, tail: Int?)
        /// ``RecordingBackend/shutdown()``.
        case shutdown

        /// True for the calls that only read (`requestedReplicas`, `status`, `logs`); the others
        /// are the ``RecordingBackend/commands``.
        public var isQuery: Bool {
            switch self {
            case .requestedReplicas, .status, .logs: true
            case .apply, .remove, .setReplicas, .refresh, .shutdown: false
            }
        }

        /// `apply(iris, revision 2)`, `setReplicas(iris, 3)`, … for failure messages.
        public var description: String {
            switch self {
            case .apply(let deployment): "apply(\(deployment.spec.name), revision \(deployment.revision))"
            case .remove(let api): "remove(\(api))"
            case .setReplicas(let api, let count): "setReplicas(\(api), \(count))"
            case .requestedReplicas(let api): "requestedReplicas(\(api))"
            case .refresh(let api): "refresh(\(api))"
            case .status(let api): "status(\(api))"
            case .logs(let api, let replica, let follow, let tail):
                "logs(\(api), replica: \(replica ?? "nil"), follow: \(follow), tail: \(tail.map(String.init) ?? "nil"))"
            case .shutdown: "shutdown"
            }
        }
    }

    private struct ManagedAPI {
        var deployment: Deployment
        var requested: Int
        var current: [ReplicaSnapshot] = []
        var previous: [ReplicaSnapshot] = []
        var createdReplicas = 0
    }

    private struct Follower {
        var replica: String?
        var continuation: AsyncThrowingStream<LogLine, any Error>.Continuation
    }

    private let registry: (any ReplicaRegistry)?
    private var apis: [String: ManagedAPI] = [:]
    private var recorded: [Call] = []
    private var fixedStatuses: [String: BackendAPIStatus] = [:]
    private var logLines: [String: [LogLine]] = [:]
    private var followers: [String: [Int: Follower]] = [:]
    private var nextFollowerID = 0
    private var replicaAddresses: [String: [ReplicaAddress]] = [:]
    private var collections = 0

    /// A backend running no API.
    /// - Parameter registry: where ready replicas are attached and stopping ones detached; nil
    ///   (the default) for none.
    public init(registry: (any ReplicaRegistry)? = nil) {
        self.registry = registry
    }

    // MARK: What the test reads

    /// Every call so far, oldest first.
    public var calls: [Call] { recorded }

    /// The calls so far that change something (every call but the queries), oldest first.
    public var commands: [Call] { recorded.filter { !$0.isQuery } }

    /// How many times ``collectGarbage()`` was called (not one of ``calls``: the control plane
    /// calls it after every deploy and delete, which would clutter every test's expected calls).
    public var garbageCollections: Int { collections }

    /// Forgets the calls recorded so far (e.g. those of a test's set-up); the APIs stay.
    public func clearCalls() {
        recorded.removeAll()
    }

    /// The APIs the backend runs, by name.
    public var apiNames: [String] { apis.keys.sorted() }

    /// The deployment `api` runs, or nil when the backend does not run it.
    public func deployment(api: String) -> Deployment? {
        apis[api]?.deployment
    }

    /// The replicas of `api`: the current revision's, then the older revisions' still running.
    public func replicas(api: String) -> [ReplicaSnapshot] {
        apis[api].map { $0.current + $0.previous } ?? []
    }

    /// The ready replicas of `api` as the data plane is given them: one address per worker
    /// (``setAddresses(_:replica:)``, or `run/<replica>/worker-<i>.sock` for each of
    /// `processes_per_replica` workers) and `threads_per_process` slots per worker.
    public func endpoints(api: String) -> [ReplicaEndpoint] {
        guard let managed = apis[api] else { return [] }
        return (managed.current + managed.previous).filter { $0.document.state == .ready }.map {
            endpoint(of: $0.document, in: managed.deployment)
        }
    }

    // MARK: What the test sets

    /// Makes the first `count` replicas of `api`'s current revision that are not ready yet
    /// ready (all of them when nil), attaching each to the registry first.
    ///
    /// Once every requested replica of the current revision is ready, the older revisions'
    /// replicas stop (detached from the registry), as at the end of a rolling update.
    /// - Throws: the registry's error when it refuses a replica; that replica stays `starting`.
    public func markReady(api: String, count: Int? = nil) async throws {
        guard let managed = apis[api] else { return }
        let waiting = managed.current.filter { $0.document.state != .ready }.map(\.document.id)
        for id in waiting.prefix(count ?? waiting.count) {
            guard let deployment = apis[api]?.deployment,
                let document = apis[api]?.current.first(where: { $0.document.id == id })?.document
            else { continue }
            try await registry?.attach(endpoint(of: document, in: deployment))
            guard let index = apis[api]?.current.firstIndex(where: { $0.document.id == id }) else { continue }
            apis[api]!.current[index].document.state = .ready
        }
        guard let updated = apis[api], !updated.previous.isEmpty,
            updated.current.count >= updated.requested,
            updated.current.allSatisfy({ $0.document.state == .ready })
        else { return }
        apis[api]!.previous = []
        await detach(updated.previous, api: api)
    }

    /// Replaces the replicas `api` reports (e.g. a crash loop: snapshots with
    /// `consecutiveFailures` and `lastExitCode`); the requested count stays. No-op for an API
    /// the backend does not run.
    public func setSnapshots(api: String, current: [ReplicaSnapshot], previous: [ReplicaSnapshot] = []) {
        guard apis[api] != nil else { return }
        apis[api]!.current = current
        apis[api]!.previous = previous
    }

    /// Fixes what ``status(api:)`` answers for `api`, even for an API the backend does not
    /// run; nil goes back to deriving it from the replicas.
    public func setStatus(_ status: BackendAPIStatus?, api: String) {
        fixedStatuses[api] = status
    }

    /// The addresses of `replica`'s workers in its endpoint, in worker order.
    public func setAddresses(_ addresses: [ReplicaAddress], replica: String) {
        replicaAddresses[replica] = addresses
    }

    /// Replaces the stored log of `api` (what ``logs(api:replica:follow:tail:)`` returns).
    public func setLogs(_ lines: [LogLine], api: String) {
        logLines[api] = lines
    }

    /// Appends `lines` to the log of `api` and yields them to its followers.
    public func appendLogs(_ lines: [LogLine], api: String) {
        logLines[api, default: []] += lines
        for follower in followers[api, default: [:]].values {
            for line in lines where follower.replica == nil || follower.replica == line.source {
                follower.continuation.yield(line)
            }
        }
    }

    // MARK: ReplicaBackend

    /// Records the call; starts `deployment`'s replicas as the type's discussion says.
    public func apply(_ deployment: Deployment) async {
        recorded.append(.apply(deployment))
        await replaceReplicas(with: deployment)
    }

    /// Records the call; forgets the API, detaches its ready replicas and ends its log followers.
    public func remove(api: String) async {
        recorded.append(.remove(api: api))
        guard let managed = apis.removeValue(forKey: api) else { return }
        endFollowers(api: api)
        await detach(managed.current + managed.previous, api: api)
    }

    /// Records the call; starts missing replicas of the current revision or stops extra ones
    /// (not-ready ones first). No-op for an unknown API.
    public func setReplicas(api: String, count: Int) async {
        recorded.append(.setReplicas(api: api, count: count))
        guard var managed = apis[api] else { return }
        managed.requested = max(0, count)
        if managed.current.count < managed.requested {
            for _ in managed.current.count..<managed.requested { managed.current.append(newReplica(of: &managed)) }
            apis[api] = managed
            return
        }
        let ordered =
            managed.current.filter { $0.document.state == .ready } + managed.current.filter { $0.document.state != .ready }
        managed.current = Array(ordered.prefix(managed.requested))
        apis[api] = managed
        await detach(Array(ordered.dropFirst(managed.requested)), api: api)
    }

    /// Records the call; the requested replica count of `api`, nil for an unknown API.
    public func requestedReplicas(api: String) async -> Int? {
        recorded.append(.requestedReplicas(api: api))
        return apis[api]?.requested
    }

    /// Records the call; replaces every replica with a new one of the same revision.
    public func refresh(api: String) async {
        recorded.append(.refresh(api: api))
        guard let deployment = apis[api]?.deployment else { return }
        await replaceReplicas(with: deployment)
    }

    /// Records the call; the fixed status (``setStatus(_:api:)``), else the one
    /// ``StatusDeriver`` derives from the replicas, nil for an API the backend does not run.
    public func status(api: String) async -> BackendAPIStatus? {
        recorded.append(.status(api: api))
        if let fixed = fixedStatuses[api] { return fixed }
        guard let managed = apis[api] else { return nil }
        return StatusDeriver.derive(
            api: api, requested: managed.requested, current: managed.current, previous: managed.previous)
    }

    /// Records the call; the stored lines of `api` (``setLogs(_:api:)``) of `replica` (every
    /// source when nil), the last `tail` of them when `tail` is 0 or more. With `follow`, lines
    /// appended later (``appendLogs(_:api:)``) follow while the backend runs the API.
    public func logs(api: String, replica: String?, follow: Bool, tail: Int?) async -> AsyncThrowingStream<LogLine, any Error> {
        recorded.append(.logs(api: api, replica: replica, follow: follow, tail: tail))
        var lines = logLines[api, default: []].filter { replica == nil || $0.source == replica }
        if let tail, tail >= 0 { lines = Array(lines.suffix(tail)) }
        let (stream, continuation) = AsyncThrowingStream<LogLine, any Error>.makeStream()
        for line in lines { continuation.yield(line) }
        guard follow, apis[api] != nil else {
            continuation.finish()
            return stream
        }
        let id = nextFollowerID
        nextFollowerID += 1
        followers[api, default: [:]][id] = Follower(replica: replica, continuation: continuation)
        continuation.onTermination = { _ in Task { await self.dropFollower(id, api: api) } }
        return stream
    }

    /// Records the call; forgets every API, detaching their ready replicas, and ends every
    /// log follower.
    public func shutdown() async {
        recorded.append(.shutdown)
        let stopped = apis
        apis.removeAll()
        for (api, managed) in stopped {
            endFollowers(api: api)
            await detach(managed.current + managed.previous, api: api)
        }
    }

    /// The project folders of the APIs it runs (not recorded in ``calls``).
    public func projectDirectoriesInUse() async -> Set<String> {
        Set(apis.values.map(\.deployment.projectDirectory))
    }

    /// Counts the call (``garbageCollections``); deletes nothing.
    public func collectGarbage() async {
        collections += 1
    }

    // MARK: The model

    /// A new or updated revision (or a refresh): new replicas of `deployment`, the current
    /// ones becoming the older revision's.
    private func replaceReplicas(with deployment: Deployment) async {
        let name = deployment.spec.name
        let autoscaling = deployment.spec.autoscaling
        var managed: ManagedAPI
        if let existing = apis[name] {
            managed = existing
            managed.requested = min(max(existing.requested, autoscaling.minReplicas), autoscaling.maxReplicas)
            managed.previous += existing.current
            managed.current = []
        } else {
            managed = ManagedAPI(deployment: deployment, requested: max(deployment.initialReplicas ?? autoscaling.initReplicas, 0))
        }
        managed.deployment = deployment
        for _ in 0..<managed.requested { managed.current.append(newReplica(of: &managed)) }
        apis[name] = managed
    }

    private func newReplica(of managed: inout ManagedAPI) -> ReplicaSnapshot {
        managed.createdReplicas += 1
        let document = ReplicaDocument(
            id: "\(managed.deployment.spec.name)-\(managed.createdReplicas)", revision: managed.deployment.revision,
            state: .starting, pid: nil, restarts: 0, lastExit: nil)
        return ReplicaSnapshot(document: document, lastExitCode: nil, lastOutputLine: nil, consecutiveFailures: 0)
    }

    private func endpoint(of replica: ReplicaDocument, in deployment: Deployment) -> ReplicaEndpoint {
        let workers = deployment.spec.predictor?.processesPerReplica ?? 1
        let addresses =
            replicaAddresses[replica.id] ?? (0..<workers).map { .unix(path: "run/\(replica.id)/worker-\($0).sock") }
        return ReplicaEndpoint(
            api: deployment.spec.name, replicaID: replica.id, revision: replica.revision, addresses: addresses,
            slotsPerWorker: deployment.spec.predictor?.threadsPerProcess ?? 1)
    }

    private func detach(_ replicas: [ReplicaSnapshot], api: String) async {
        guard let registry else { return }
        for replica in replicas where replica.document.state == .ready {
            await registry.detach(api: api, replicaID: replica.document.id, grace: .zero)
        }
    }

    private func endFollowers(api: String) {
        let ended = followers.removeValue(forKey: api) ?? [:]
        for follower in ended.values { follower.continuation.finish() }
    }

    private func dropFollower(_ id: Int, api: String) {
        followers[api]?[id] = nil
    }
}
