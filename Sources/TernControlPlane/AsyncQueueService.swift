import Foundation
import HTTPTypes
import Logging
import TernCore

/// Settings of the AsyncAPI queues.
public struct AsyncQueueConfiguration: Sendable {
    /// Seconds a worker holds a request without a heartbeat before it is delivered again.
    public var leaseSeconds: Double
    /// Seconds a completed or failed request (and its result) is kept.
    public var retentionSeconds: Double
    /// How long a `lease` with nothing queued waits for a request before answering `wait`.
    public var longPoll: Duration
    /// Deliveries after the first of a request whose worker crashed or hung (a `predict` that
    /// raised is not retried: it fails the request, as a 500 would).
    public var crashRetries: Int
    /// Between checks of expired leases and the retention sweep.
    public var tick: Duration

    /// Settings; the defaults are `tern serve`'s.
    public init(
        leaseSeconds: Double = 30, retentionSeconds: Double = 7 * 24 * 3600, longPoll: Duration = .seconds(2), crashRetries: Int = 2,
        tick: Duration = .seconds(1)
    ) {
        self.leaseSeconds = leaseSeconds
        self.retentionSeconds = retentionSeconds
        self.longPoll = longPoll
        self.crashRetries = crashRetries
        self.tick = tick
    }
}

/// AsyncAPIs: each request is stored in the durable queue (``Store/asyncQueue(_:)``) and
/// answered `{"id"}` at once; the API's workers (the Python runtime with `--work-url`, see
/// docs/work-protocol.md) lease requests in order and post back results, which
/// `GET <endpoint>/<id>` reads until they are deleted after the retention time.
///
/// Workers are scaled like replicas, by an ``Autoscaler`` of their own whose in-flight signal is
/// this service's queue length plus requests in progress (``inFlight(api:)``), down to zero;
/// a request to an API with no worker wakes one (Cortex's AsyncAPI scaled on queue length the
/// same way).
public actor AsyncQueueService: ReplicaScaler, InFlightSource {
    private struct Queue {
        var spec: APISpec
        var revision: Int
        var token: String
        var workers: Int
    }

    private let store: Store
    private let workers: any WorkerBackend
    private let controlURL: String
    /// The certificate workers trust for an `https` ``controlURL`` (``WorkerGroup/workCAFile``).
    private let controlCAFile: String?
    private let configuration: AsyncQueueConfiguration
    private let logger: Logger
    private let now: @Sendable () -> Double
    private var queues: [String: Queue] = [:]
    private var scaling: (any ScalingRegistry)?
    /// Leases waiting for a request, by API.
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
    private var stopping = false
    private var lastSweep: Double = 0
    /// When each worker last asked for a request (Unix seconds): a worker that asks has loaded
    /// its predictor, so this is its readiness.
    private var lastLease: [String: Double] = [:]

    /// Creates the service; call ``setScaling(_:)`` with the autoscaler of its workers.
    public init(
        store: Store, workers: any WorkerBackend, controlURL: String, controlCAFile: String? = nil,
        configuration: AsyncQueueConfiguration = AsyncQueueConfiguration(),
        logger: Logger, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.store = store
        self.workers = workers
        self.controlURL = controlURL
        self.controlCAFile = controlCAFile
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    /// Connects the autoscaler that scales the workers (it calls ``setReplicas(api:count:)``).
    public func setScaling(_ registry: any ScalingRegistry) {
        scaling = registry
    }

    // MARK: APIs

    /// Starts serving AsyncAPI `stored` (or moves it to a new revision: running workers are
    /// replaced). The first time after `tern serve` starts, leases held by workers that died
    /// with the previous server are given back.
    public func apply(_ stored: StoredRevision) async {
        let api = stored.api
        if let queue = queues[api] {
            guard queue.revision != stored.revision else { return }
            queues[api]!.spec = stored.spec
            queues[api]!.revision = stored.revision
            if queue.workers > 0 {
                await workers.stopWorkers(api: api, group: Self.group)
                await workers.runWorkers(group(api)!)
            }
        } else {
            let released = (try? store.releaseLeases(queue: Store.asyncQueue(api))) ?? 0
            if released > 0 { logger.info("gave back AsyncAPI leases of a previous server", metadata: ["api": "\(api)", "leases": "\(released)"]) }
            queues[api] = Queue(spec: stored.spec, revision: stored.revision, token: RandomHex.digits(32), workers: 0)
            await setReplicas(api: api, count: max(stored.spec.autoscaling.initReplicas, 0))
        }
        await scaling?.track(stored.spec)
        if queues[api]!.workers == 0, inFlightNow(api) > 0 { await scaling?.awaken(api: api) }
    }

    /// Stops the API's workers and deletes its queue (requests and results).
    public func remove(api: String) async {
        guard queues.removeValue(forKey: api) != nil else { return }
        await scaling?.untrack(api: api)
        await workers.stopWorkers(api: api, group: Self.group)
        try? store.deleteQueue(Store.asyncQueue(api))
        lastLease = lastLease.filter { !$0.key.hasPrefix("\(api)-async-") }
        wake(api)
    }

    /// Ends every long-polling lease (`tern serve` is stopping).
    public func shutdown() {
        stopping = true
        for api in Array(waiters.keys) { wake(api) }
    }

    // MARK: ReplicaScaler, InFlightSource

    public func setReplicas(api: String, count: Int) async {
        guard queues[api] != nil else { return }
        queues[api]!.workers = max(count, 0)
        if count > 0 {
            await workers.runWorkers(group(api)!)
        } else {
            await workers.stopWorkers(api: api, group: Self.group)
        }
    }

    public func requestedReplicas(api: String) async -> Int? {
        queues[api]?.workers
    }

    /// Requests queued plus in progress: the autoscaling signal of an AsyncAPI.
    public func inFlight(api: String) async -> Int {
        inFlightNow(api)
    }

    /// What `tern get` shows of an AsyncAPI's workers: how many run, and, when none does, why
    /// (`error (init failed)` with the predictor's last line, `error (out of memory)`, `compute
    /// unavailable` with what is missing); nil status while they start normally.
    public func workerHealth(api: String) async -> (ready: Int, status: APIStatus?, message: String?) {
        let snapshots = await workers.workers(api: api, group: Self.group)
        // Ready: running, and loaded: it asked for work lately (an idle worker asks every long
        // poll) or works on a request now.
        let holders = (try? store.leaseHolders(queue: Store.asyncQueue(api))) ?? []
        let recent = now() - Self.readinessWindow
        let ready = snapshots.filter { snapshot in
            snapshot.state == .ready && (holders.contains(snapshot.id) || (lastLease[snapshot.id] ?? 0) > recent)
        }.count
        guard ready == 0 else { return (ready, nil, nil) }
        if let failed = snapshots.first(where: { $0.lastExitCode == 3 }) {
            return (0, .errorInitFailed, "worker \(failed.id) \(failed.lastExit ?? "failed")" + (failed.lastOutputLine.map { ": \($0)" } ?? ""))
        }
        if let oom = snapshots.first(where: \.outOfMemory) {
            return (0, .errorOutOfMemory, "worker \(oom.id) went over compute.mem_limit")
        }
        if let waiting = snapshots.first(where: { $0.waiting != nil }) {
            return (0, waiting.waiting!.hasPrefix("waiting for compute") ? .computeUnavailable : nil, waiting.waiting)
        }
        return (0, nil, nil)
    }

    /// How long after its last `lease` an idle worker still counts as ready (several long polls).
    static let readinessWindow = 15.0

    private func inFlightNow(_ api: String) -> Int {
        guard let counts = try? store.counts(queue: Store.asyncQueue(api)) else { return 0 }
        return counts.queued + counts.leased
    }

    /// The group's worker group name (ids `<api>-async-<n>`).
    static let group = "async"

    private func group(_ api: String) -> WorkerGroup? {
        guard let queue = queues[api] else { return nil }
        var config: JSONValue = .object([:])
        if let base = queue.spec.predictor?.config { config = base }
        let file: JSONValue = .object([
            "kind": .string(APIKind.asyncAPI.rawValue), "job_id": .null, "api_name": .string(api), "config": config, "job_spec": .null,
        ])
        return WorkerGroup(
            api: api, id: Self.group, count: queue.workers, workURL: "\(controlURL)/v1/work/async/\(api)", token: queue.token,
            jobFile: (try? JSONEncoder().encode(file)).map { [UInt8]($0) } ?? [], restartOnFailure: true,
            workCAFile: controlCAFile)
    }

    // MARK: the endpoint

    /// `POST <endpoint>`: stores the request; answers its id.
    public func submit(api: String, body: [UInt8], contentType: String?) async throws -> String {
        guard queues[api] != nil else { throw ControlPlaneError.notFound(api) }
        let time = now()
        let id = JobService.newJobID(at: time)
        try store.enqueueRequest(queue: Store.asyncQueue(api), id: id, body: body, contentType: contentType, now: time)
        wake(api)
        if queues[api]?.workers == 0 { await scaling?.awaken(api: api) }
        return id
    }

    /// `GET <endpoint>/<id>`: the request's status and, once completed, its result.
    /// - Throws: ``ControlPlaneError`` 404 for an unknown (or expired) request.
    public func status(api: String, id: String) async throws -> [UInt8] {
        guard let request = try store.request(queue: Store.asyncQueue(api), id: id) else {
            throw ControlPlaneError(
                status: .notFound, kind: .notFound,
                message: "API \(api) has no request \(id) (results are kept for \(Int(configuration.retentionSeconds / 3600)) h)", api: api)
        }
        var document = Self.document(request)
        if request.state == "queued", let problem = await workerHealth(api: api).message, document.last == UInt8(ascii: "}") {
            // Why it waits: its workers cannot start (their predictor fails to load, no compute).
            document.removeLast()
            document += Array(#","message":\#(jsonQuoted(problem))}"#.utf8)
        }
        return document
    }

    /// `{"id", "status", "timestamp", …}`: `status` is `in_queue`, `in_progress`, `completed`
    /// (with `result`, its `content_type` and `status_code`) or `failed` (with `error`). A JSON
    /// result is embedded as it is, a text result as a string, any other as `result_base64`.
    public static func document(_ request: StoredRequest) -> [UInt8] {
        let status =
            switch request.state {
            case "queued": "in_queue"
            case "leased": "in_progress"
            case "done": "completed"
            default: "failed"
            }
        var json = #"{"id":\#(jsonQuoted(request.id)),"status":"\#(status)","timestamp":\#(jsonQuoted(Self.iso(request.createdAt)))"#
        if let finished = request.finishedAt { json += #","ended_at":\#(jsonQuoted(Self.iso(finished)))"# }
        if request.state == "dead" { json += #","error":\#(jsonQuoted(request.error ?? "failed"))"# }
        guard request.state == "done", let result = request.result else { return Array((json + "}").utf8) }
        let type = request.resultType ?? "application/octet-stream"
        json += #","status_code":\#(request.resultStatus ?? 200),"content_type":\#(jsonQuoted(type)),"#
        if type.hasPrefix("application/json"), !result.isEmpty {
            return Array((json + #""result":"#).utf8) + result + Array("}".utf8)
        }
        if type.hasPrefix("text/"), let text = String(validating: result, as: UTF8.self) {
            return Array((json + #""result":\#(jsonQuoted(text))}"#).utf8)
        }
        return Array((json + #""result_base64":"\#(Data(result).base64EncodedString())"}"#).utf8)
    }

    private static func iso(_ time: Double) -> String {
        Date(timeIntervalSince1970: time).formatted(.iso8601)
    }

    // MARK: the work protocol

    private func authorize(api: String, token: String?) throws {
        guard let queue = queues[api] else {
            throw ControlPlaneError(status: .notFound, kind: .notFound, message: "no AsyncAPI \(api)")
        }
        guard let token, ConstantTime.equals(token.utf8, queue.token.utf8) else {
            throw ControlPlaneError(status: .unauthorized, kind: .unauthorized, message: "wrong work token for AsyncAPI \(api)")
        }
    }

    /// `lease`: the oldest queued request; when there is none, waits up to the long-poll time
    /// for one, then answers `wait` (the worker asks again at once).
    public func lease(api: String, token: String?, worker: String) async throws -> WorkAnswer {
        try authorize(api: api, token: token)
        lastLease[worker] = now()
        let queue = Store.asyncQueue(api)
        for attempt in 0..<2 {
            guard !stopping, queues[api] != nil else { return .exit }
            let time = now()
            let receipt = RandomHex.digits(16)
            if let item = try store.lease(
                queue: queue, worker: worker, receipt: receipt, now: time, leaseSeconds: configuration.leaseSeconds,
                retries: configuration.crashRetries)
            {
                return .request(id: item.id, receipt: receipt, body: item.payload, contentType: item.contentType, leaseSeconds: configuration.leaseSeconds)
            }
            if attempt == 0 { await waitForRequest(api) }
        }
        return .wait(seconds: 0)
    }

    /// Returns when a request arrives for `api`, or after the long-poll time.
    private func waitForRequest(_ api: String) async {
        let id = UUID()
        let timeout = configuration.longPoll
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters[api, default: [:]][id] = continuation
            Task {
                try? await Task.sleep(for: timeout)
                self.resume(api, id)
            }
        }
    }

    private func resume(_ api: String, _ id: UUID) {
        waiters[api]?.removeValue(forKey: id)?.resume()
    }

    private func wake(_ api: String) {
        for continuation in waiters.removeValue(forKey: api)?.values ?? [:].values { continuation.resume() }
    }

    /// `heartbeat`: extends the lease; 409 when it is gone.
    public func heartbeat(api: String, token: String?, item: String, receipt: String) throws {
        try authorize(api: api, token: token)
        guard try store.heartbeat(queue: Store.asyncQueue(api), id: item, receipt: receipt, now: now(), leaseSeconds: configuration.leaseSeconds)
        else { throw Self.leaseLost(item) }
    }

    /// `done`: stores the result (once); 409 when the lease is gone.
    public func done(api: String, token: String?, item: String, receipt: String, result: [UInt8], contentType: String, status: Int) throws {
        try authorize(api: api, token: token)
        guard
            try store.completeRequest(
                queue: Store.asyncQueue(api), id: item, receipt: receipt, result: result, resultType: contentType, status: status, now: now())
        else { throw Self.leaseLost(item) }
    }

    /// `failed`: `predict` raised; the request fails with `error` (no retry).
    public func failed(api: String, token: String?, item: String, receipt: String, error: String) throws {
        try authorize(api: api, token: token)
        guard try store.markFailed(queue: Store.asyncQueue(api), id: item, receipt: receipt, error: error, retries: 0, now: now()) else {
            throw Self.leaseLost(item)
        }
    }

    private static func leaseLost(_ item: String) -> ControlPlaneError {
        ControlPlaneError(
            status: .conflict, kind: .leaseLost, message: "the lease of request \(item) is gone (it expired and went to another worker)")
    }

    // MARK: monitoring

    /// Expires leases of hung or crashed workers and deletes results past their retention, every
    /// tick until cancelled.
    public func run() async {
        while !Task.isCancelled {
            tick()
            try? await Task.sleep(for: configuration.tick)
        }
    }

    /// One check (see ``run()``).
    public func tick() {
        let time = now()
        for api in queues.keys {
            let expired = (try? store.expireLeases(
                queue: Store.asyncQueue(api), now: time, retries: configuration.crashRetries, leaseSeconds: configuration.leaseSeconds)) ?? 0
            if expired > 0 { wake(api) }
        }
        if time - lastSweep > 60 {
            lastSweep = time
            if let removed = try? store.deleteRequests(finishedBefore: time - configuration.retentionSeconds), removed > 0 {
                logger.info("deleted AsyncAPI results past their retention", metadata: ["requests": "\(removed)"])
            }
        }
    }
}

extension AsyncQueueService {
    /// Answers a request to an AsyncAPI's endpoint: `POST <endpoint>` → `{"id": ID}`, `GET
    /// <endpoint>/<id>` → ``document(_:)``, `GET <endpoint>` → the queue's length. Errors are
    /// Tern's JSON error document (404 unknown request, 405 other methods).
    public nonisolated func handle(_ request: QueueRequest) async -> QueueAnswer {
        do {
            switch (request.method, request.subpath) {
            case ("POST", ""):
                let id = try await submit(api: request.api, body: request.body, contentType: request.contentType)
                return QueueAnswer(status: 200, body: Array(#"{"id":\#(jsonQuoted(id))}"#.utf8))
            case ("GET", ""):
                let queued = await inFlight(api: request.api)
                return QueueAnswer(status: 200, body: Array(#"{"api":\#(jsonQuoted(request.api)),"in_queue_or_progress":\#(queued)}"#.utf8))
            case ("GET", let id) where !id.contains("/"):
                return QueueAnswer(status: 200, body: try await status(api: request.api, id: id))
            default:
                throw ControlPlaneError(
                    status: .methodNotAllowed, kind: .methodNotAllowed,
                    message: "use POST \(request.endpoint) to submit a request and GET \(request.endpoint)/<id> for its status and result",
                    api: request.api)
            }
        } catch let error as ControlPlaneError {
            return QueueAnswer(error)
        } catch {
            return QueueAnswer(ControlPlaneError.unexpected(error, api: request.api))
        }
    }
}

extension QueueAnswer {
    /// Tern's JSON error document for `error`, with its status.
    init(_ error: ControlPlaneError) {
        let body = (try? WireJSON.encoder().encode(ErrorDocument(kind: error.kind, message: error.message, api: error.api))).map { [UInt8]($0) } ?? []
        self.init(status: Int(error.status.code), body: body)
    }
}
