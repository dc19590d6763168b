import Foundation

/// A job submitted to a BatchAPI or TaskAPI, validated: Cortex 0.25's job submission body
/// (`POST <endpoint>` or `tern submit API job.json`), with Tern's names beside Cortex's.
///
/// ```json
/// {"workers": 2, "timeout": 3600, "retries": 2, "config": {"out": "/tmp/out"},
///  "item_list": {"items": [1, 2, 3], "batch_size": 2}}
/// ```
/// Inputs (exactly one for a BatchAPI, none for a TaskAPI): `item_list {items, batch_size}`,
/// `file_path_lister {file_paths, includes, excludes, batch_size}`, `delimited_files
/// {file_paths, includes, excludes, batch_size}`. Cortex's `s3_paths` is read as `file_paths`
/// (local paths and `file://` URLs); `sqs_dead_letter_queue.max_receive_count` as `retries + 1`.
public struct JobSpec: Sendable, Equatable {
    /// Worker processes (1–1000; default 1; a TaskAPI runs exactly one).
    public var workers: Int
    /// Seconds the job may run before it is stopped as `timed out`; nil for no limit.
    public var timeoutSeconds: Int?
    /// How many times a failed batch is delivered again before it goes to the dead-letter list
    /// (0–100; default 2, so 3 receives as with `max_receive_count: 3`).
    public var retries: Int
    /// `config`: merged over the API's `predictor.config` (top-level keys).
    public var config: [String: JSONValue]
    /// The input of a BatchAPI job; nil for a TaskAPI.
    public var input: JobInput?

    /// Memberwise initialiser.
    public init(workers: Int = 1, timeoutSeconds: Int? = nil, retries: Int = 2, config: [String: JSONValue] = [:], input: JobInput? = nil) {
        self.workers = workers
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
        self.config = config
        self.input = input
    }

    /// Default of ``retries``.
    public static let defaultRetries = 2
    /// Largest `workers`.
    public static let maxWorkers = 1000
}

/// Where a BatchAPI job's items come from.
public enum JobInput: Sendable, Equatable {
    /// `item_list`: the items themselves, `batchSize` per batch.
    case itemList(items: [JSONValue], batchSize: Int)
    /// `file_path_lister`: every file under `paths` (files, or folders listed recursively) whose
    /// path matches an `includes` glob (all when empty) and no `excludes` glob; each item is a
    /// path, `batchSize` per batch.
    case filePathLister(paths: [String], includes: [String], excludes: [String], batchSize: Int)
    /// `delimited_files`: the same files, read as JSON lines; each non-blank line is an item.
    case delimitedFiles(paths: [String], includes: [String], excludes: [String], batchSize: Int)

    /// Items per batch.
    public var batchSize: Int {
        switch self {
        case .itemList(_, let size), .filePathLister(_, _, _, let size), .delimitedFiles(_, _, _, let size): size
        }
    }

    /// The key as written: `item_list`, `file_path_lister` or `delimited_files`.
    public var key: String {
        switch self {
        case .itemList: "item_list"
        case .filePathLister: "file_path_lister"
        case .delimitedFiles: "delimited_files"
        }
    }
}

/// A job submission that cannot be run: `message` names the key and what is allowed.
public struct JobSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// E.g. `item_list.batch_size: must be at least 1 (got 0)`.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads a job submission body into a ``JobSpec``.
public enum JobSpecParser {
    /// Largest `batch_size`.
    public static let maxBatchSize = 1_000_000

    /// Parses `body` (a JSON object) for an API of `kind` (``APIKind/batchAPI`` or
    /// ``APIKind/taskAPI``).
    /// - Throws: ``JobSpecError`` naming the key: not a JSON object, unknown keys, wrong types,
    ///   out-of-range numbers, no input or two inputs (BatchAPI), an input on a TaskAPI, an empty
    ///   `items` or `file_paths`, an `s3://` path.
    public static func parse(_ body: [UInt8], kind: APIKind) throws(JobSpecError) -> JobSpec {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw JobSpecError("the job spec is not valid JSON; send an object such as {\"workers\": 1, \"item_list\": {\"items\": [1, 2], \"batch_size\": 1}}")
        }
        guard case .object(let object) = value else { throw JobSpecError("the job spec must be a JSON object") }
        let inputs = ["item_list", "file_path_lister", "delimited_files"]
        // A task has no batches to retry (Cortex's TaskAPI took workers, timeout and config).
        let allowed = ["workers", "timeout", "config"] + (kind == .batchAPI ? ["retries", "sqs_dead_letter_queue"] + inputs : [])
        for key in object.keys.sorted() where !allowed.contains(key) {
            if inputs.contains(key) {
                throw JobSpecError("\(key): a TaskAPI job takes no input; give its settings in config")
            }
            if kind == .taskAPI, key == "retries" || key == "sqs_dead_letter_queue" {
                throw JobSpecError("\(key): a TaskAPI job runs once and is not retried (allowed: \(allowed.joined(separator: ", ")))")
            }
            throw JobSpecError("unknown key \(key) (allowed: \(allowed.joined(separator: ", ")))")
        }
        var spec = JobSpec()
        spec.workers = try integer(object["workers"], "workers", 1...JobSpec.maxWorkers) ?? 1
        if kind == .taskAPI, spec.workers != 1 {
            throw JobSpecError("workers: a TaskAPI job runs one worker (got \(spec.workers))")
        }
        spec.timeoutSeconds = try integer(object["timeout"], "timeout", 1...(365 * 24 * 3600))
        if let retries = try integer(object["retries"], "retries", 0...100) { spec.retries = retries }
        if let queue = object["sqs_dead_letter_queue"] {
            guard case .object(let fields) = queue else { throw JobSpecError("sqs_dead_letter_queue: must be an object {max_receive_count}") }
            if let count = try integer(fields["max_receive_count"], "sqs_dead_letter_queue.max_receive_count", 1...101) {
                if object["retries"] != nil {
                    throw JobSpecError("retries and sqs_dead_letter_queue.max_receive_count say the same thing; keep one")
                }
                spec.retries = count - 1
            }
        }
        switch object["config"] {
        case nil, .null?: break
        case .object(let config)?: spec.config = config
        default: throw JobSpecError("config: must be an object")
        }
        guard kind == .batchAPI else { return spec }
        let given = inputs.filter { object[$0] != nil }
        guard given.count == 1, let key = given.first, case .object(let section)? = object[key] else {
            if given.count > 1 { throw JobSpecError("give one input, not \(given.joined(separator: " and "))") }
            if let key = given.first { throw JobSpecError("\(key): must be an object") }
            throw JobSpecError("the job has no input: give item_list {items, batch_size}, file_path_lister {file_paths, batch_size} or delimited_files {file_paths, batch_size}")
        }
        let batchSize = try integer(section["batch_size"], "\(key).batch_size", 1...maxBatchSize)
        guard let batchSize else { throw JobSpecError("\(key).batch_size: missing (an integer of at least 1)") }
        if key == "item_list" {
            for field in section.keys.sorted() where !["items", "batch_size"].contains(field) {
                throw JobSpecError("\(key): unknown key \(field) (allowed: items, batch_size)")
            }
            guard case .array(let items)? = section["items"] else {
                throw JobSpecError(section["items"] == nil ? "item_list.items: missing (a JSON array)" : "item_list.items: must be a JSON array")
            }
            guard !items.isEmpty else { throw JobSpecError("item_list.items: is empty; a job needs at least one item") }
            spec.input = .itemList(items: items, batchSize: batchSize)
            return spec
        }
        for field in section.keys.sorted() where !["file_paths", "s3_paths", "includes", "excludes", "batch_size"].contains(field) {
            throw JobSpecError("\(key): unknown key \(field) (allowed: file_paths, includes, excludes, batch_size)")
        }
        let pathKey = section["file_paths"] != nil ? "file_paths" : "s3_paths"
        let paths = try strings(section[pathKey], "\(key).\(pathKey)") ?? []
        guard !paths.isEmpty else { throw JobSpecError("\(key).file_paths: missing or empty (local paths or file:// URLs)") }
        var local: [String] = []
        for path in paths {
            if path.hasPrefix("file://") {
                let rest = path.dropFirst("file://".count)
                guard rest.hasPrefix("/") else {
                    throw JobSpecError("\(key).\(pathKey): \(path): a file:// URL names a path on this machine: file:///absolute/path (no host)")
                }
                local.append(String(rest))
            } else if path.contains("://") {
                throw JobSpecError("\(key).\(pathKey): \(path): only local paths and file:// URLs are read by this version (object stores are not)")
            } else {
                local.append(path)
            }
        }
        let includes = try strings(section["includes"], "\(key).includes") ?? []
        let excludes = try strings(section["excludes"], "\(key).excludes") ?? []
        spec.input =
            key == "file_path_lister"
            ? .filePathLister(paths: local, includes: includes, excludes: excludes, batchSize: batchSize)
            : .delimitedFiles(paths: local, includes: includes, excludes: excludes, batchSize: batchSize)
        return spec
    }

    private static func integer(_ value: JSONValue?, _ key: String, _ range: ClosedRange<Int>) throws(JobSpecError) -> Int? {
        switch value {
        case nil, .null?: return nil
        case .number(let number)?:
            guard number == number.rounded(), abs(number) < 1e15 else {
                throw JobSpecError("\(key): must be an integer (got \(number))")
            }
            let integer = Int(number)
            guard range.contains(integer) else {
                throw JobSpecError("\(key): must be between \(range.lowerBound) and \(range.upperBound) (got \(integer))")
            }
            return integer
        default:
            throw JobSpecError("\(key): must be an integer")
        }
    }

    private static func strings(_ value: JSONValue?, _ key: String) throws(JobSpecError) -> [String]? {
        switch value {
        case nil, .null?: return nil
        case .array(let items)?:
            return try items.map { item throws(JobSpecError) -> String in
                guard case .string(let text) = item, !text.isEmpty else { throw JobSpecError("\(key): must be a list of non-empty strings") }
                return text
            }
        default:
            throw JobSpecError("\(key): must be a list of strings")
        }
    }
}

/// Where a job is in its life (Cortex's job statuses, as they are written).
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    /// The input is being read and split into batches.
    case enqueuing
    /// Workers are processing batches (or waiting for compute to start).
    case running
    /// Every batch was processed and `on_job_complete` ran (a task returned).
    case succeeded
    /// The input could not be read (the message names the file and line).
    case failedWhileEnqueuing = "failed while enqueuing"
    /// Every batch was processed, and some went to the dead-letter list.
    case completedWithFailures = "completed with failures"
    /// Workers kept exiting before they could work (or a task raised).
    case workerError = "worker error"
    /// A worker went over `compute.mem_limit`.
    case outOfMemory = "out of memory"
    /// The job ran past its `timeout`.
    case timedOut = "timed out"
    /// Stopped by `tern delete API JOB_ID`, `DELETE <endpoint>?jobID=`, or the API's deletion.
    case stopped

    /// True for every status but `enqueuing` and `running`.
    public var isFinal: Bool { self != .enqueuing && self != .running }
}

/// A job as the control-plane API and `tern get API JOB_ID` show it (the items themselves are
/// left out: a job may have millions).
public struct JobDocument: Sendable, Equatable, Codable {
    /// Job id (16 hex digits, increasing with the submission time).
    public var jobID: String
    /// The API's name.
    public var api: String
    /// `BatchAPI` or `TaskAPI`.
    public var kind: String
    /// Status.
    public var status: JobStatus
    /// Why, when it is not running normally (a failure, workers waiting for compute).
    public var message: String?
    /// `workers` of the spec.
    public var workers: Int
    /// `timeout` of the spec, in seconds.
    public var timeoutSeconds: Int?
    /// `retries` of the spec.
    public var retries: Int
    /// `config` of the spec.
    public var config: [String: JSONValue]
    /// The input's key (`item_list`, `file_path_lister`, `delimited_files`); nil for a task.
    public var input: String?
    /// Items per batch; nil for a task.
    public var batchSize: Int?
    /// Batches in all (0 for a TaskAPI and while enqueuing).
    public var batchesTotal: Int
    /// Batches marked done.
    public var batchesSucceeded: Int
    /// Batches in the dead-letter list.
    public var batchesFailed: Int
    /// Batches being worked on now.
    public var batchesInProgress: Int
    /// Items in all.
    public var itemsTotal: Int
    /// Items of the batches marked done.
    public var itemsSucceeded: Int
    /// Worker processes running now.
    public var workersRunning: Int
    /// When it was submitted.
    public var createdAt: Date
    /// When its workers first started.
    public var startedAt: Date?
    /// When it reached a final status.
    public var endedAt: Date?
    /// Exit of the task's process (TaskAPI), e.g. `exited with code 1`.
    public var exit: String?

    /// Memberwise initialiser.
    public init(
        jobID: String, api: String, kind: String, status: JobStatus, message: String?, spec: JobSpec,
        batchesTotal: Int, batchesSucceeded: Int, batchesFailed: Int, batchesInProgress: Int, itemsTotal: Int,
        itemsSucceeded: Int, workersRunning: Int, createdAt: Date, startedAt: Date?, endedAt: Date?, exit: String? = nil
    ) {
        self.jobID = jobID
        self.api = api
        self.kind = kind
        self.status = status
        self.message = message
        self.workers = spec.workers
        self.timeoutSeconds = spec.timeoutSeconds
        self.retries = spec.retries
        self.config = spec.config
        self.input = spec.input?.key
        self.batchSize = spec.input?.batchSize
        self.batchesTotal = batchesTotal
        self.batchesSucceeded = batchesSucceeded
        self.batchesFailed = batchesFailed
        self.batchesInProgress = batchesInProgress
        self.itemsTotal = itemsTotal
        self.itemsSucceeded = itemsSucceeded
        self.workersRunning = workersRunning
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.exit = exit
    }

    enum CodingKeys: String, CodingKey {
        case kind, status, message, workers, retries, config, input, exit
        case api = "api_name"  // Cortex's name
        case jobID = "job_id"
        case timeoutSeconds = "timeout"
        case batchSize = "batch_size"
        case batchesTotal = "batches_total"
        case batchesSucceeded = "batches_succeeded"
        case batchesFailed = "batches_failed"
        case batchesInProgress = "batches_in_progress"
        case itemsTotal = "items_total"
        case itemsSucceeded = "items_succeeded"
        case workersRunning = "workers_running"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
    }

    /// Items per second since the workers started (until the end, or now), nil before.
    public func itemsPerSecond(now: Date = Date()) -> Double? {
        guard let startedAt else { return nil }
        let seconds = (endedAt ?? now).timeIntervalSince(startedAt)
        return seconds > 0 ? Double(itemsSucceeded) / seconds : nil
    }

    /// Seconds left at the rate so far, while running with some batches finished; nil otherwise.
    public func etaSeconds(now: Date = Date()) -> Double? {
        guard status == .running, let startedAt, batchesSucceeded + batchesFailed > 0 else { return nil }
        let elapsed = now.timeIntervalSince(startedAt)
        let left = batchesTotal - batchesSucceeded - batchesFailed
        return elapsed / Double(batchesSucceeded + batchesFailed) * Double(left)
    }
}

/// A batch in a job's dead-letter list.
public struct DeadLetter: Sendable, Equatable, Codable {
    enum CodingKeys: String, CodingKey {
        case receives, error, items
        case batchID = "batch_id"
    }

    /// Batch id (`0`, `1`, … in input order).
    public var batchID: String
    /// Times it was delivered.
    public var receives: Int
    /// Its last error (the predictor's exception, or why the lease expired).
    public var error: String?
    /// Items in it.
    public var items: Int

    /// Memberwise initialiser.
    public init(batchID: String, receives: Int, error: String?, items: Int) {
        self.batchID = batchID
        self.receives = receives
        self.error = error
        self.items = items
    }
}
