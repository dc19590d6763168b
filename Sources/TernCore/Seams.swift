/// The seams where Tern's feature modules meet. Each module implements or consumes these
/// protocols; only `tern serve` (TernCLI) wires concrete types together.
///
/// Dependencies point one way: TernCore ← {TernGateway, TernSupervisor, TernControlPlane}.

/// A revision of an API that a backend should run.
public struct Deployment: Sendable, Equatable {
    /// The validated spec.
    public var spec: APISpec
    /// Revision number (1, 2, …); a new one for every change of spec or project files.
    public var revision: Int
    /// Absolute path of the extracted project (the folder that held `tern.yaml`).
    public var projectDirectory: String
    /// Environment for the replicas: the project's `.env`, then `predictor.env` on top.
    public var environment: [String: String]
    /// Replicas to start with when the backend does not run the API yet: the autoscaled count
    /// stored before a restart of `tern serve`, already clamped to `[min_replicas,
    /// max_replicas]`. Nil (the default): `init_replicas`. A backend that runs the API keeps its
    /// current count (clamped) instead.
    public var initialReplicas: Int?

    /// Memberwise initialiser.
    public init(
        spec: APISpec, revision: Int, projectDirectory: String, environment: [String: String], initialReplicas: Int? = nil
    ) {
        self.spec = spec
        self.revision = revision
        self.projectDirectory = projectDirectory
        self.environment = environment
        self.initialReplicas = initialReplicas
    }
}

/// What an API's replicas look like, as a backend reports it.
public struct BackendAPIStatus: Sendable, Equatable {
    /// Derived status (see ``APIStatus``).
    public var status: APIStatus
    /// Why, when not live; when live, a note such as out-of-memory restarts.
    public var message: String?
    /// What the current revision does before its replicas can start, if anything.
    public var phase: APIPhase?
    /// Replicas wanted now.
    public var requestedReplicas: Int
    /// Replicas that receive traffic.
    public var readyReplicas: Int
    /// Every replica.
    public var replicas: [ReplicaDocument]

    /// Memberwise initialiser.
    public init(
        status: APIStatus, message: String?, phase: APIPhase? = nil, requestedReplicas: Int, readyReplicas: Int,
        replicas: [ReplicaDocument]
    ) {
        self.phase = phase
        self.status = status
        self.message = message
        self.requestedReplicas = requestedReplicas
        self.readyReplicas = readyReplicas
        self.replicas = replicas
    }
}

/// The autoscaler's lever: how many replicas (or queue workers) an API runs. Implemented by
/// every ``ReplicaBackend``, and by the AsyncAPI queues, whose workers scale the same way.
public protocol ReplicaScaler: Sendable {
    /// Sets how many replicas of the current revision `api` should run (the autoscaler's lever).
    /// Extra replicas are drained and stopped; missing ones are started. No-op for an unknown API.
    func setReplicas(api: String, count: Int) async
    /// Replicas of the current revision that `api` should run now, or nil for an unknown API.
    func requestedReplicas(api: String) async -> Int?
}

/// Starts, probes, restarts and stops replicas (the local process supervisor; Kubernetes later).
public protocol ReplicaBackend: ReplicaScaler {
    /// Makes the API run `deployment` (starting it, or replacing replicas of an older revision).
    /// Returns once the change is under way; readiness is reported through ``status(api:)``.
    func apply(_ deployment: Deployment) async
    /// Stops every replica of `api` and returns once their processes are gone.
    func remove(api: String) async
    /// Restarts every replica of `api` as a rolling update of the same revision.
    func refresh(api: String) async
    /// The API's replicas and derived status, or nil for an API the backend does not run.
    func status(api: String) async -> BackendAPIStatus?
    /// The API's log, oldest line first: its replicas' output and Tern's own lines about it.
    ///
    /// - Parameters:
    ///   - replica: only the lines of this source (a replica id, or ``LogLine/ternSource``);
    ///     nil for every source.
    ///   - follow: after the stored lines, keep yielding lines as they are written, until the
    ///     API is removed, the backend shuts down, or the consumer stops iterating. A backend
    ///     that does not run the API returns only what it stored.
    ///   - tail: start with the last `tail` stored lines only; nil or negative for all, 0 for none.
    /// - Returns: the lines; the stream throws when the log cannot be read further. The local
    ///   backend reads `TERN_HOME/logs/<api>.log` (lines from before a restart included); a
    ///   Kubernetes backend would merge its pods' logs (`follow`, `tailLines`, `timestamps`).
    func logs(api: String, replica: String?, follow: Bool, tail: Int?) async -> AsyncThrowingStream<LogLine, any Error>
    /// Stops every replica of every API (graceful, then forced) and returns once all are gone.
    func shutdown() async
    /// The project folders (``Deployment/projectDirectory``) the backend needs now: those of the
    /// revisions it runs and of every replica or worker still running, older revisions that are
    /// draining included. The control plane's garbage collector keeps their bundles.
    func projectDirectoriesInUse() async -> Set<String>
    /// Deletes what the backend keeps on disk for revisions nothing uses any more (the local
    /// backend: `requirements.txt` environments that no running replica and no current
    /// revision uses), never what a replica or a dependency install in progress uses. Called by
    /// the control plane once every stored API was applied (at start) and after each deploy
    /// and delete.
    func collectGarbage() async
}

/// Where one worker process of a replica accepts frame connections (docs/replica-protocol.md).
///
/// The frames are the same on either transport; only how the gateway connects differs.
public enum ReplicaAddress: Sendable, Hashable, CustomStringConvertible {
    /// A Unix domain socket, by path. The local backend's workers listen on
    /// `TERN_HOME/run/<replica-id>/worker-<i>.sock`.
    case unix(path: String)
    /// A TCP address: a host name or IP address and a port (1–65535). A Kubernetes backend gives
    /// the pod IP and the port of the pod's frame proxy for each worker.
    case tcp(host: String, port: Int)

    /// `/path/worker-0.sock` or `host:port` (`[::1]:9000` for an IPv6 address), for logs.
    public var description: String {
        switch self {
        case .unix(let path): path
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// A replica whose workers accept connections, handed from the backend to the data plane.
public struct ReplicaEndpoint: Sendable, Equatable {
    /// The API it serves.
    public var api: String
    /// Unique replica id, e.g. `iris-3f9a1c` (a pod name on Kubernetes).
    public var replicaID: String
    /// Revision it runs.
    public var revision: Int
    /// One address per worker process (`processes_per_replica` of them), in worker order.
    public var addresses: [ReplicaAddress]
    /// Concurrency slots per worker (`threads_per_process`): the gateway opens this many
    /// connections to each address.
    public var slotsPerWorker: Int

    /// Memberwise initialiser.
    public init(api: String, replicaID: String, revision: Int, addresses: [ReplicaAddress], slotsPerWorker: Int) {
        self.api = api
        self.replicaID = replicaID
        self.revision = revision
        self.addresses = addresses
        self.slotsPerWorker = slotsPerWorker
    }
}

/// The data plane's view of replicas: the backend attaches a replica once it started and
/// detaches it before stopping it.
public protocol ReplicaRegistry: Sendable {
    /// Opens the replica's slot connections, exchanges `hello` and a `health` frame, then puts the
    /// replica into balancing. Throws when the replica does not answer (it is then not used).
    func attach(_ replica: ReplicaEndpoint) async throws
    /// Takes the replica out of balancing at once, waits up to `grace` for its in-flight requests
    /// to finish, then closes its connections. Idempotent.
    func detach(api: String, replicaID: String, grace: Duration) async
    /// A replica exited before it became ready (`message` says why). Requests held for a cold
    /// start get 503 carrying the message at once when no replica of the API is ready.
    func startFailed(api: String, message: String) async
    /// Sends a `health` frame to every worker of an attached replica on its own connection (so a
    /// long prediction never delays it); false when one does not answer 200 within `timeout`.
    func probe(api: String, replicaID: String, timeout: Duration) async -> Bool
}

/// The data plane's routing table: which endpoint path belongs to which API, with its limits.
public protocol RouteTable: Sendable {
    /// Adds or updates the route of `spec` (endpoint, admission limits, timeout).
    func setRoute(_ spec: APISpec) async
    /// Adds or atomically replaces the weighted route of TrafficSplitter `api` at `endpoint`: each
    /// request picks one of `targets` by weight and is served as a request to that API's own
    /// endpoint. Requests that already picked a target are not affected by a replacement.
    /// ``removeRoute(api:)`` removes it.
    func setSplit(api: String, endpoint: String, targets: [TrafficTarget]) async
    /// Adds or moves the route of queueing API `api` (BatchAPI, TaskAPI) at `endpoint`: its
    /// requests (submit, status, stop, as in Cortex) go to the ``QueueEndpoint`` the gateway was
    /// given. ``removeRoute(api:)`` removes it.
    func setQueueRoute(api: String, endpoint: String) async
    /// Removes the route of `api` (a RealtimeAPI, TrafficSplitter or queueing API): later requests get 404 at
    /// once, queued ones 503; returns once the running ones finished (within the gateway's drain
    /// grace period).
    func removeRoute(api: String) async
    /// Replaces the keys (their SHA-256 digests and rate limits: ``GatewayKey``) that open
    /// RealtimeAPI `api` when its spec has `networking.auth: api_key`; takes effect for the next
    /// request (a revoked key is refused at once). A key already there with the same rate limit
    /// keeps its bucket (what it has used). Kept across ``setRoute(_:)`` and ``removeRoute(api:)``.
    func setAPIKeys(api: String, keys: [GatewayKey]) async
}

/// Where the autoscaler (and the API documents) read in-flight requests, the autoscaling signal.
///
/// Implemented by the in-process gateway; with several gateways (Kubernetes), a source per
/// gateway summed by `SummedInFlightSource` (TernScaling) gives the API's total.
public protocol InFlightSource: Sendable {
    /// Requests in flight for `api` in this source (running plus queued), 0 for an unknown API.
    func inFlight(api: String) async -> Int
    /// Requests running on each replica of `api` (busy slots), by replica id; replicas the source
    /// does not route to are absent. Default: none known.
    func replicaInFlight(api: String) async -> [String: Int]
}

extension InFlightSource {
    /// None known (a source that only counts per API).
    public func replicaInFlight(api: String) async -> [String: Int] { [:] }
}

/// The autoscaler's registration interface: the control plane tells it which APIs exist.
public protocol ScalingRegistry: Sendable {
    /// Starts (or updates) autoscaling of `spec`'s API.
    func track(_ spec: APISpec) async
    /// Stops autoscaling `api`.
    func untrack(api: String) async
    /// A request arrived for `api` while it had no replica: scale it to one now (scale from zero).
    func awaken(api: String) async
    /// The average in-flight requests of `api` over its autoscaling window, nil before any sample.
    func averageInFlight(api: String) async -> Double?
}

// MARK: workers (BatchAPI, TaskAPI, AsyncAPI)

/// Worker processes of one job (or of an AsyncAPI's queue): runtime processes that pull their
/// work from the control plane (docs/work-protocol.md) instead of being sent frames.
public struct WorkerGroup: Sendable, Equatable {
    /// The API whose deployed revision the workers run (its project, environment, `compute`).
    public var api: String
    /// The group's id: the job id, or `async` for an AsyncAPI's queue. Worker ids are
    /// `<id>-<n>` for a job, `<api>-async-<n>` for a queue.
    public var id: String
    /// Processes to run now (an AsyncAPI's autoscaler moves it; 0 stops them all).
    public var count: Int
    /// Base URL of the group's queue in the work protocol.
    public var workURL: String
    /// The group's bearer token for the work protocol (`TERN_WORK_TOKEN`).
    public var token: String
    /// The JSON the workers read with `--job-file` (kind, job id, merged config, job spec).
    public var jobFile: [UInt8]
    /// Start a worker again (with the replica restart backoff) when it exits with a non-zero
    /// code; false for a TaskAPI, whose one process either succeeds or fails the job.
    public var restartOnFailure: Bool
    /// With an `https` ``workURL``: a PEM file of certificates the workers trust besides the
    /// system's roots (`TERN_WORK_CA_FILE`; the server's own certificate). Default nil.
    public var workCAFile: String?

    /// Memberwise initialiser.
    public init(
        api: String, id: String, count: Int, workURL: String, token: String, jobFile: [UInt8], restartOnFailure: Bool,
        workCAFile: String? = nil
    ) {
        self.workCAFile = workCAFile
        self.api = api
        self.id = id
        self.count = count
        self.workURL = workURL
        self.token = token
        self.jobFile = jobFile
        self.restartOnFailure = restartOnFailure
    }
}

/// One worker process as the backend sees it.
public struct WorkerSnapshot: Sendable, Equatable {
    /// Worker id.
    public var id: String
    /// `starting`, `ready` (running), `backoff` (waiting to restart), `exited` (not started
    /// again: finished, or failed without restart).
    public var state: ReplicaState
    /// Starts after the first.
    public var restarts: Int
    /// Exits in a row that came soon after a start (reset by a run that lasted).
    public var consecutiveFailures: Int
    /// How the last run ended, e.g. `exited with code 1`.
    public var lastExit: String?
    /// Exit code of the last run, when it exited rather than being signalled.
    public var lastExitCode: Int32?
    /// The last run was killed for going over `compute.mem_limit`.
    public var outOfMemory: Bool
    /// The last line the worker printed (the exception of a traceback, say).
    public var lastOutputLine: String?
    /// Why the process has not started (waiting for compute or for the API's dependencies).
    public var waiting: String?

    /// Memberwise initialiser.
    public init(
        id: String, state: ReplicaState, restarts: Int, consecutiveFailures: Int, lastExit: String?,
        lastExitCode: Int32?, outOfMemory: Bool, lastOutputLine: String?, waiting: String?
    ) {
        self.id = id
        self.state = state
        self.restarts = restarts
        self.consecutiveFailures = consecutiveFailures
        self.lastExit = lastExit
        self.lastExitCode = lastExitCode
        self.outOfMemory = outOfMemory
        self.lastOutputLine = lastOutputLine
        self.waiting = waiting
    }
}

/// Runs worker processes for the control plane's jobs and queues (the local backend; Kubernetes
/// Jobs or worker Deployments later).
public protocol WorkerBackend: Sendable {
    /// Starts the group's workers, or brings a running group to `group.count` (extra workers
    /// are stopped: SIGTERM, then SIGKILL after the stop grace). Workers wait for the API's
    /// dependencies and for compute like replicas do. No-op when the backend does not run `api`.
    func runWorkers(_ group: WorkerGroup) async
    /// Stops the group's workers and returns once their processes are gone.
    func stopWorkers(api: String, group: String) async
    /// The group's workers now, in start order; `[]` for an unknown group.
    func workers(api: String, group: String) async -> [WorkerSnapshot]
}

/// A request to the endpoint of a BatchAPI, TaskAPI or AsyncAPI, handed from the gateway to the
/// control plane's job service (Cortex served these on the API's own endpoint).
public struct QueueRequest: Sendable {
    /// The API.
    public var api: String
    /// The API's endpoint path, e.g. `/digits`.
    public var endpoint: String
    /// `GET`, `POST`, `DELETE`, …
    public var method: String
    /// What follows the endpoint in the path, without its `/`: `""` for the endpoint itself,
    /// `<id>` for `GET <endpoint>/<id>` of an AsyncAPI.
    public var subpath: String
    /// Query parameters (`jobID`).
    public var query: [String: String]
    /// The request's `Content-Type`.
    public var contentType: String?
    /// The body (at most the gateway's `--max-body-bytes`).
    public var body: [UInt8]

    /// Memberwise initialiser.
    public init(api: String, endpoint: String, method: String, subpath: String, query: [String: String], contentType: String?, body: [UInt8]) {
        self.api = api
        self.endpoint = endpoint
        self.method = method
        self.subpath = subpath
        self.query = query
        self.contentType = contentType
        self.body = body
    }
}

/// The answer to a ``QueueRequest``.
public struct QueueAnswer: Sendable, Equatable {
    /// HTTP status.
    public var status: Int
    /// `Content-Type` of `body`.
    public var contentType: String
    /// The body.
    public var body: [UInt8]

    /// Memberwise initialiser.
    public init(status: Int, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// Serves the endpoints of APIs that queue their work (the control plane's job service).
public protocol QueueEndpoint: Sendable {
    /// Answers a request to a queueing API's endpoint (submit, status, stop, results).
    func handle(_ request: QueueRequest) async -> QueueAnswer
}

/// What the supervisor and the job service report of the platform's own events, for metrics
/// (``/metrics``, docs/metrics.md): implemented by TernMetrics' `ServerMetrics`, used by
/// `LocalBackend` and `JobService`. Every call is rare (a restart, an install, a batch) and must
/// not block.
public protocol PlatformObserver: Sendable {
    /// A replica (or a job or queue worker) of `api` exited and is being started again.
    func replicaRestarted(api: String)
    /// A revision of `api` got its `requirements.txt` environment (or failed to) after
    /// `duration`.
    func dependenciesPrepared(api: String, outcome: DependencyInstallOutcome, duration: Duration)
    /// A worker of a job of `api` reported one batch done or failed.
    func jobBatchFinished(api: String, outcome: JobBatchOutcome)
}

/// How preparing an API revision's `requirements.txt` environment ended.
public enum DependencyInstallOutcome: String, Sendable, CaseIterable {
    /// pip ran and the environment was built.
    case installed
    /// An environment for the same requirements and Python was already built (or being built).
    case reused
    /// The probe, `venv` or pip failed.
    case failed
}

/// How one batch of a BatchAPI job ended when its worker reported it.
public enum JobBatchOutcome: String, Sendable, CaseIterable {
    /// `done`.
    case succeeded
    /// `failed`, and queued again (retries left).
    case retried
    /// `failed` with no retries left: dead-lettered.
    case failed
}
