import Foundation
import HTTPTypes
import Logging
import TernCore

/// What a worker is told by `lease` (docs/work-protocol.md).
public enum WorkAnswer: Sendable, Equatable {
    /// Work on this item.
    case item(id: String, receipt: String, payload: [UInt8], leaseSeconds: Double)
    /// Work on this AsyncAPI request: its stored body and content type.
    case request(id: String, receipt: String, body: [UInt8], contentType: String?, leaseSeconds: Double)
    /// Nothing to lease now; ask again after `seconds`.
    case wait(seconds: Double)
    /// Run `on_job_complete`, then report it.
    case complete
    /// The job is over: exit.
    case exit

    /// The answer's JSON body.
    public var json: [UInt8] {
        switch self {
        case .item(let id, let receipt, let payload, let lease):
            // The payload is already JSON: spliced in, not decoded and encoded again.
            return Array(#"{"type":"item","id":\#(jsonQuoted(id)),"receipt":"\#(receipt)","lease_seconds":\#(lease),"payload":"#.utf8)
                + payload + Array("}".utf8)
        case .request(let id, let receipt, let body, let contentType, let lease):
            let type = contentType.map(jsonQuoted) ?? "null"
            return Array(
                #"{"type":"item","id":\#(jsonQuoted(id)),"receipt":"\#(receipt)","lease_seconds":\#(lease),"content_type":\#(type),"body_base64":"\#(Data(body).base64EncodedString())"}"#
                    .utf8)
        case .wait(let seconds): return Array(#"{"type":"wait","seconds":\#(seconds)}"#.utf8)
        case .complete: return Array(#"{"type":"complete"}"#.utf8)
        case .exit: return Array(#"{"type":"exit"}"#.utf8)
        }
    }

}

/// `text` as a JSON string literal, quotes included (for the work protocol's fixed-shape answers).
func jsonQuoted(_ text: String) -> String {
    String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
}

/// Settings of the job service.
public struct JobServiceConfiguration: Sendable {
    /// The visibility timeout of a lease, extended by each heartbeat. Default 30 s.
    public var leaseSeconds: Double
    /// How long finished jobs (spec, progress, errors, dead letters) are kept. Default 7 days.
    public var retentionSeconds: Double
    /// How often the service checks leases, workers and timeouts. Default 250 ms.
    public var tick: Duration
    /// Worker exits in a row (soon after starting) that make the job `worker error`. Default 3.
    public var workerFailureLimit: Int

    /// Creates a configuration; defaults as documented on each property.
    public init(leaseSeconds: Double = 30, retentionSeconds: Double = 7 * 24 * 3600, tick: Duration = .milliseconds(250), workerFailureLimit: Int = 3) {
        self.leaseSeconds = leaseSeconds
        self.retentionSeconds = retentionSeconds
        self.tick = tick
        self.workerFailureLimit = workerFailureLimit
    }
}

/// BatchAPI and TaskAPI jobs: submission, the durable queue of batches, the work protocol its
/// workers speak (docs/work-protocol.md), and each job's status from its queue and its workers.
///
/// Every state change is a row in the ``Store`` first, so a restarted `tern serve` carries on
/// (``restore()``): leases of the workers that died with it are given back, new workers start.
public actor JobService {
    private let store: Store
    private let workers: any WorkerBackend
    private let configuration: JobServiceConfiguration
    private let logger: Logger
    private let now: @Sendable () -> Double
    /// Base URL of the control plane, for the workers' `--work-url`.
    private let controlURL: String
    /// The certificate workers trust for an `https` ``controlURL`` (``WorkerGroup/workCAFile``).
    private let controlCAFile: String?
    /// The deployed revision of an API (its kind and `predictor.config`).
    private let revision: @Sendable (String) -> StoredRevision?
    /// Told of every batch a worker reports done or failed (metrics); nil: nobody.
    private let observer: (any PlatformObserver)?
    private var lastSweep: Double = 0
    /// Parsed specs of the jobs seen since start (see ``spec(of:)``).
    private var specs: [String: JobSpec] = [:]

    /// Creates the service; `revision` looks up an API's deployed revision; `observer` (default
    /// none) is told of each batch's outcome.
    public init(
        store: Store, workers: any WorkerBackend, controlURL: String, controlCAFile: String? = nil,
        configuration: JobServiceConfiguration = JobServiceConfiguration(),
        logger: Logger, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        observer: (any PlatformObserver)? = nil,
        revision: @escaping @Sendable (String) -> StoredRevision?
    ) {
        self.observer = observer
        self.store = store
        self.workers = workers
        self.controlURL = controlURL
        self.controlCAFile = controlCAFile
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.revision = revision
    }

    // MARK: jobs

    /// Submits a job to `api` (a BatchAPI or TaskAPI): stores it, reads its input into batches,
    /// and starts its workers.
    /// - Throws: ``ControlPlaneError`` 404 for an unknown API, 422 `invalid_job` for a spec
    ///   ``JobSpecParser`` refuses or another kind of API.
    public func submit(api: String, body: [UInt8]) async throws -> JobDocument {
        guard let stored = revision(api) else { throw ControlPlaneError.notFound(api) }
        guard stored.spec.kind.runsJobs else {
            throw ControlPlaneError(
                status: .unprocessableContent, kind: .invalidJob,
                message: "API \(api) is \(stored.spec.kind == .asyncAPI ? "an" : "a") \(stored.spec.kind.rawValue); jobs are submitted to a BatchAPI or TaskAPI", api: api)
        }
        let spec: JobSpec
        do {
            spec = try JobSpecParser.parse(body, kind: stored.spec.kind)
        } catch {
            throw ControlPlaneError(status: .unprocessableContent, kind: .invalidJob, message: "job for API \(api): \(error.message)", api: api)
        }
        let created = now()
        let job = StoredJob(
            id: Self.newJobID(at: created), api: api, kind: stored.spec.kind, submission: body, token: RandomHex.digits(32),
            status: .enqueuing, message: nil, batchesTotal: 0, itemsTotal: 0, completion: "pending", completionWorker: nil,
            completionUntil: nil, createdAt: created, startedAt: nil, endedAt: nil, exit: nil)
        try store.insertJob(job)
        specs[job.id] = spec
        enqueue(job, spec: spec)
        // A small input is read at once: the answer then says `running` (or why it failed while
        // enqueuing). A large one goes on in the background and the answer says `enqueuing`.
        for _ in 0..<Self.enqueueWaitSteps {
            guard let current = try store.job(id: job.id, withSubmission: false), current.status == .enqueuing else { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try document(try store.job(id: job.id, withSubmission: false)!)
    }

    /// How long `submit` waits for the input to be read before it answers `enqueuing` (× 50 ms).
    static let enqueueWaitSteps = 20

    /// Reads the input into batches (BatchAPI) and starts the workers, on a thread of its own
    /// (reading and storing a large input takes seconds and must not hold up the work protocol);
    /// a failure to read makes the job `failed while enqueuing`.
    private func enqueue(_ job: StoredJob, spec: JobSpec) {
        let store = self.store, now = self.now, logger = self.logger
        Thread.detachNewThread {
            do {
                if let input = spec.input {
                    let batches = try JobInputReader.read(input)
                    try store.enqueueBatches(job: job.id, payloads: batches.map(\.payload), items: batches.map(\.items))
                } else {
                    try store.enqueueBatches(job: job.id, payloads: [], items: [])  // a task: straight to running
                }
            } catch let error as JobSpecError {
                try? store.setJobStatus(id: job.id, .failedWhileEnqueuing, message: error.message, now: now())
                return
            } catch {
                logger.error("could not store the batches of a job", metadata: ["job": "\(job.id)", "error": "\(error)"])
                try? store.setJobStatus(id: job.id, .failedWhileEnqueuing, message: "could not store its batches: \(error)", now: now())
                return
            }
            Task { await self.startWorkers(job.id) }
        }
    }

    /// The job's parsed spec, parsed once per job (nil when the stored submission no longer parses).
    private func spec(of job: StoredJob) -> JobSpec? {
        if let spec = specs[job.id] { return spec }
        let submission = job.submission.isEmpty ? ((try? store.job(id: job.id))?.submission ?? []) : job.submission
        guard let spec = try? JobSpecParser.parse(submission, kind: job.kind) else { return nil }
        specs[job.id] = spec
        return spec
    }

    private func startWorkers(_ id: String) async {
        guard let job = try? store.job(id: id), job.status == .running, let spec = spec(of: job),
            let stored = revision(job.api)
        else { return }
        var config: [String: JSONValue] = [:]
        if case .object(let base)? = stored.spec.predictor?.config { config = base }
        for (key, value) in spec.config { config[key] = value }
        var jobSpec: [String: JSONValue] = (try? JSONDecoder().decode([String: JSONValue].self, from: Data(job.submission))) ?? [:]
        jobSpec["job_id"] = .string(job.id)
        jobSpec["api_name"] = .string(job.api)
        // With the defaults filled in, as Cortex's job spec had them; an item list's items are
        // left out (they reach predict as batches, and can be megabytes).
        jobSpec["workers"] = .number(Double(spec.workers))
        jobSpec["retries"] = .number(Double(spec.retries))
        if let timeout = spec.timeoutSeconds { jobSpec["timeout"] = .number(Double(timeout)) }
        jobSpec["total_batch_count"] = .number(Double(job.batchesTotal))
        if case .object(var list)? = jobSpec["item_list"] {
            list["items"] = nil
            jobSpec["item_list"] = .object(list)
        }
        let file: [String: JSONValue] = [
            "kind": .string(job.kind.rawValue), "job_id": .string(job.id), "api_name": .string(job.api),
            "config": .object(config), "job_spec": .object(jobSpec),
        ]
        let encoded = (try? JSONEncoder().encode(JSONValue.object(file))).map { [UInt8]($0) } ?? []
        try? store.markJobStarted(id: id, now: now())
        await workers.runWorkers(
            WorkerGroup(
                api: job.api, id: job.id, count: spec.workers, workURL: "\(controlURL)/v1/work/jobs/\(job.id)", token: job.token,
                jobFile: encoded, restartOnFailure: job.kind == .batchAPI, workCAFile: controlCAFile))
        logger.info("job started", metadata: ["api": "\(job.api)", "job": "\(id)", "workers": "\(spec.workers)"])
    }

    /// One job of `api`.
    /// - Throws: ``ControlPlaneError`` 404 for an unknown job.
    public func job(api: String, id: String) async throws -> JobDocument {
        try await liveDocument(try stored(api: api, id: id))
    }

    /// Jobs of `api` (every API when nil), newest first.
    /// - Throws: ``ControlPlaneError`` 404 for an API that is not deployed and has no jobs kept.
    public func jobs(api: String?) async throws -> [JobDocument] {
        var documents: [JobDocument] = []
        let jobs = try store.jobs(api: api, withSubmission: false)
        if let api, jobs.isEmpty, revision(api) == nil { throw ControlPlaneError.notFound(api) }
        for job in jobs { documents.append(try await liveDocument(job)) }
        return documents
    }

    /// The job's dead-letter list.
    public func deadLetters(api: String, id: String) async throws -> [DeadLetter] {
        try store.deadLetters(queue: try stored(api: api, id: id).id)
    }

    /// Stops a job (`stopped`); its workers get SIGTERM. A finished job is left as it is.
    public func stop(api: String, id: String) async throws -> JobDocument {
        let job = try stored(api: api, id: id)
        if !job.status.isFinal { await finish(job, .stopped, message: "stopped on request") }
        return try document(try store.job(id: id, withSubmission: false)!)
    }

    /// Puts the job's dead letters back in its queue and, when the job had finished, runs it again.
    /// Returns how many batches were queued again.
    public func retry(api: String, id: String) async throws -> Int {
        let job = try stored(api: api, id: id)
        let count = try store.requeueDeadLetters(queue: id)
        if count > 0, job.status.isFinal, job.kind == .batchAPI {
            try store.reopenJob(id: id)
            await startWorkers(id)
        }
        return count
    }

    /// Stops every unfinished job of a deleted API (`stopped`).
    public func apiDeleted(_ api: String) async {
        for job in (try? store.jobs(api: api, withSubmission: false)) ?? [] where !job.status.isFinal {
            await finish(job, .stopped, message: "API \(api) was deleted")
        }
    }

    /// After a restart: leases held by the workers that died with the last server are given back,
    /// jobs that were enqueuing are read again, and running jobs get new workers.
    public func restore() async {
        for job in (try? store.jobs(api: nil)) ?? [] where !job.status.isFinal {
            guard revision(job.api) != nil else {
                await finish(job, .stopped, message: "API \(job.api) is no longer deployed")
                continue
            }
            let released = (try? store.releaseLeases(queue: job.id)) ?? 0
            if job.status == .enqueuing, let spec = spec(of: job) {
                enqueue(job, spec: spec)
            } else {
                await startWorkers(job.id)
            }
            logger.info("resumed job", metadata: ["api": "\(job.api)", "job": "\(job.id)", "leases given back": "\(released)"])
        }
    }

    // MARK: the work protocol

    /// Checks a worker's token against its job's; throws 401 otherwise, 404 for an unknown job.
    public func authorize(job id: String, token: String?) throws -> StoredJob {
        guard let job = try store.job(id: id, withSubmission: false) else {
            throw ControlPlaneError(status: .notFound, kind: .notFound, message: "no job \(id)")
        }
        guard let token, ConstantTime.equals(token.utf8, job.token.utf8) else {
            throw ControlPlaneError(status: .unauthorized, kind: .unauthorized, message: "wrong work token for job \(id)")
        }
        return job
    }

    /// `lease`: the next batch, `wait`, `complete` (to one worker once every batch is finished) or `exit`.
    public func lease(job id: String, token: String?, worker: String) async throws -> WorkAnswer {
        let job = try authorize(job: id, token: token)
        guard job.status == .running, let spec = spec(of: job) else { return .exit }
        let time = now()
        try store.expireLeases(queue: id, now: time, retries: spec.retries, leaseSeconds: configuration.leaseSeconds)
        let receipt = RandomHex.digits(16)
        if let item = try store.lease(
            queue: id, worker: worker, receipt: receipt, now: time, leaseSeconds: configuration.leaseSeconds, retries: spec.retries)
        {
            return .item(id: item.id, receipt: receipt, payload: item.payload, leaseSeconds: configuration.leaseSeconds)
        }
        let counts = try store.counts(queue: id)
        if counts.leased > 0 { return .wait(seconds: 0.2) }
        if job.completion == "done" { return .exit }
        if try store.leaseCompletion(job: id, worker: worker, now: time, until: time + configuration.leaseSeconds) {
            return .complete
        }
        return .exit
    }

    /// `heartbeat`: extends the lease; 409 when it is gone.
    public func heartbeat(job id: String, token: String?, item: String, receipt: String) async throws {
        _ = try authorize(job: id, token: token)
        guard try store.heartbeat(queue: id, id: item, receipt: receipt, now: now(), leaseSeconds: configuration.leaseSeconds) else {
            throw Self.leaseLost(item)
        }
    }

    /// `done`: marks the batch done (once); 409 when the lease is gone.
    public func done(job id: String, token: String?, item: String, receipt: String) async throws {
        let job = try authorize(job: id, token: token)
        guard try store.markDone(queue: id, id: item, receipt: receipt, now: now()) else { throw Self.leaseLost(item) }
        observer?.jobBatchFinished(api: job.api, outcome: .succeeded)
    }

    /// `failed`: the batch is queued again or dead-lettered with `error`; 409 when the lease is gone.
    public func failed(job id: String, token: String?, item: String, receipt: String, error: String) async throws {
        let job = try authorize(job: id, token: token)
        let retries = spec(of: job)?.retries ?? JobSpec.defaultRetries
        guard try store.markFailed(queue: id, id: item, receipt: receipt, error: error, retries: retries, now: now()) else {
            throw Self.leaseLost(item)
        }
        if let observer {
            // The batch is already failed: a read error here must not fail the worker's call.
            let dead = (try? store.itemState(queue: id, id: item)) == "dead"
            observer.jobBatchFinished(api: job.api, outcome: dead ? .failed : .retried)
        }
    }

    /// `complete`: `on_job_complete` ran (with `error` when it raised); the job finishes.
    public func completed(job id: String, token: String?, worker: String, error: String?) async throws {
        let job = try authorize(job: id, token: token)
        guard try store.completeCompletion(job: id, worker: worker) else {
            throw ControlPlaneError(status: .conflict, kind: .leaseLost, message: "on_job_complete of job \(id) is not held by \(worker)")
        }
        let counts = try store.counts(queue: id)
        if let error {
            await finish(job, .completedWithFailures, message: error)  // the worker's "on_job_complete raised …"
        } else if counts.dead > 0 {
            await finish(job, .completedWithFailures, message: "\(counts.dead) of \(job.batchesTotal) batches failed; see tern jobs dead-letters \(job.api) \(id)")
        } else {
            await finish(job, .succeeded, message: nil)
        }
    }

    private static func leaseLost(_ item: String) -> ControlPlaneError {
        ControlPlaneError(
            status: .conflict, kind: .leaseLost, message: "the lease of batch \(item) is gone (it expired and went to another worker, or the batch finished)")
    }

    // MARK: monitoring

    /// Checks every running job every tick until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await tick()
            try? await Task.sleep(for: configuration.tick)
        }
    }

    /// One check: expired leases, worker exits (out of memory, repeated failures, a task's end),
    /// timeouts, and, once a minute, jobs past their retention.
    public func tick() async {
        let time = now()
        for job in (try? store.jobs(api: nil, withSubmission: false)) ?? [] where job.status == .running {
            await check(job, now: time)
        }
        if time - lastSweep > 60 {
            lastSweep = time
            if let removed = try? store.deleteJobs(endedBefore: time - configuration.retentionSeconds), removed > 0 {
                logger.info("deleted finished jobs past their retention", metadata: ["jobs": "\(removed)"])
            }
        }
    }

    private func check(_ job: StoredJob, now time: Double) async {
        guard let spec = spec(of: job) else { return }
        if let timeout = spec.timeoutSeconds, let started = job.startedAt, time - started > Double(timeout) {
            await finish(job, .timedOut, message: "the job ran longer than its timeout of \(timeout) s")
            return
        }
        try? store.expireLeases(queue: job.id, now: time, retries: spec.retries, leaseSeconds: configuration.leaseSeconds)
        let snapshots = await workers.workers(api: job.api, group: job.id)
        if let oom = snapshots.first(where: { $0.outOfMemory }) {
            await finish(job, .outOfMemory, message: "worker \(oom.id) went over compute.mem_limit: \(oom.lastExit ?? "killed")")
            return
        }
        if job.kind == .taskAPI, let task = snapshots.first, task.state == .exited {
            if task.lastExitCode == 0 {
                await finish(job, .succeeded, message: nil, exit: task.lastExit)
            } else {
                await finish(job, .workerError, message: "the task \(task.lastExit ?? "failed")" + Self.lastOutput(task), exit: task.lastExit)
            }
            return
        }
        // A batch that crashes its worker is dead-lettered after retries + 1 deliveries; only more
        // crashes in a row than that (every batch crashes, or the worker cannot start) end the job.
        let failureLimit = max(configuration.workerFailureLimit, spec.retries + 2)
        if let failing = snapshots.first(where: { $0.lastExitCode == 3 || $0.consecutiveFailures >= failureLimit }) {
            await finish(
                job, .workerError,
                message: "worker \(failing.id) \(failing.lastExit ?? "failed")" + Self.lastOutput(failing))
            return
        }
        let waiting = snapshots.filter { $0.waiting != nil }
        let message = waiting.first.map { "\(waiting.count) of \(snapshots.count) workers waiting: \($0.waiting!)" }
        if message != job.message { try? store.setJobStatus(id: job.id, .running, message: message, now: time) }
    }

    /// ` (last output: "…")`: the process's last line, which may or may not say why it ended.
    private static func lastOutput(_ worker: WorkerSnapshot) -> String {
        worker.lastOutputLine.map { " (last output: \(jsonQuoted($0)))" } ?? ""
    }

    /// Makes the job final and stops its workers (in the background: a stop may wait out the grace period).
    private func finish(_ job: StoredJob, _ status: JobStatus, message: String?, exit: String? = nil) async {
        try? store.setJobStatus(id: job.id, status, message: message, now: now(), exit: exit)
        // Batches still held (stopped, timed out) go back to the queue: not in progress any more,
        // and run again if the job is retried.
        try? store.releaseLeases(queue: job.id)
        specs[job.id] = nil
        logger.info("job ended", metadata: ["api": "\(job.api)", "job": "\(job.id)", "status": "\(status.rawValue)"])
        let workers = self.workers
        Task { await workers.stopWorkers(api: job.api, group: job.id) }
    }

    // MARK: documents

    private func stored(api: String, id: String) throws -> StoredJob {
        guard let job = try store.job(id: id, withSubmission: false), job.api == api else {
            throw ControlPlaneError(
                status: .notFound, kind: .notFound, message: "API \(api) has no job \(id); run `tern get \(api)` to list its jobs", api: api)
        }
        return job
    }

    private func document(_ job: StoredJob) throws -> JobDocument {
        let counts = try store.counts(queue: job.id)
        let spec = spec(of: job) ?? JobSpec()
        return JobDocument(
            jobID: job.id, api: job.api, kind: job.kind.rawValue, status: job.status, message: job.message, spec: spec,
            batchesTotal: job.batchesTotal, batchesSucceeded: counts.done, batchesFailed: counts.dead, batchesInProgress: job.status.isFinal ? 0 : counts.leased,
            itemsTotal: job.itemsTotal, itemsSucceeded: counts.itemsDone, workersRunning: 0,
            createdAt: Date(timeIntervalSince1970: job.createdAt), startedAt: job.startedAt.map(Date.init(timeIntervalSince1970:)),
            endedAt: job.endedAt.map(Date.init(timeIntervalSince1970:)), exit: job.exit)
    }

    private func liveDocument(_ job: StoredJob) async throws -> JobDocument {
        var document = try document(job)
        if !job.status.isFinal {
            document.workersRunning = await workers.workers(api: job.api, group: job.id).filter { $0.state == .ready }.count
        }
        return document
    }

    /// 16 hex digits: milliseconds since 1970 (11 digits, so ids sort by submission time), then 5 random.
    static func newJobID(at time: Double) -> String {
        let millis = String(UInt64(time * 1000), radix: 16)
        let padded = String(repeating: "0", count: max(0, 11 - millis.count)) + millis
        return padded + RandomHex.digits(5)
    }
}
