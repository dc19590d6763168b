import Foundation
import GRDB
import TernCore

/// A job as stored (`job` table).
public struct StoredJob: Sendable, Equatable {
    /// Job id.
    public var id: String
    /// API name.
    public var api: String
    /// `BatchAPI` or `TaskAPI`.
    public var kind: APIKind
    /// The submission body as sent (re-parsed with ``JobSpecParser`` when read).
    public var submission: [UInt8]
    /// The work-protocol token of the job's workers.
    public var token: String
    /// Status.
    public var status: JobStatus
    /// Why (failures, waiting workers).
    public var message: String?
    /// Batches and items in all (set when enqueuing ends).
    public var batchesTotal: Int
    /// Items in all.
    public var itemsTotal: Int
    /// `on_job_complete`: `pending`, `leased` (to ``completionWorker`` until ``completionUntil``) or `done`.
    public var completion: String
    /// The worker running `on_job_complete`.
    public var completionWorker: String?
    /// Until when (Unix seconds) that worker holds it.
    public var completionUntil: Double?
    /// Unix seconds.
    public var createdAt: Double
    /// Unix seconds.
    public var startedAt: Double?
    /// Unix seconds.
    public var endedAt: Double?
    /// How the task's process ended (TaskAPI).
    public var exit: String?

    /// Memberwise initialiser.
    public init(
        id: String, api: String, kind: APIKind, submission: [UInt8], token: String, status: JobStatus, message: String?,
        batchesTotal: Int, itemsTotal: Int, completion: String, completionWorker: String?, completionUntil: Double?,
        createdAt: Double, startedAt: Double?, endedAt: Double?, exit: String?
    ) {
        self.id = id
        self.api = api
        self.kind = kind
        self.submission = submission
        self.token = token
        self.status = status
        self.message = message
        self.batchesTotal = batchesTotal
        self.itemsTotal = itemsTotal
        self.completion = completion
        self.completionWorker = completionWorker
        self.completionUntil = completionUntil
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.exit = exit
    }
}

/// Counts of a queue's items by state.
public struct QueueCounts: Sendable, Equatable {
    /// Waiting to be leased.
    public var queued = 0
    /// Leased to a worker.
    public var leased = 0
    /// Marked done.
    public var done = 0
    /// In the dead-letter list.
    public var dead = 0
    /// Items (of batches) marked done.
    public var itemsDone = 0

    /// Counts; every one 0 unless given.
    public init(queued: Int = 0, leased: Int = 0, done: Int = 0, dead: Int = 0, itemsDone: Int = 0) {
        self.queued = queued
        self.leased = leased
        self.done = done
        self.dead = dead
        self.itemsDone = itemsDone
    }
}

/// An item given to a worker by ``Store/lease(queue:worker:receipt:now:leaseSeconds:)``.
public struct LeasedItem: Sendable, Equatable {
    /// Item id (a batch's index as text).
    public var id: String
    /// The stored payload (a batch: its JSON array).
    public var payload: [UInt8]
    /// Its content type.
    public var contentType: String?
}

/// The durable queue: jobs and the items (batches) of each queue, in SQLite.
///
/// Schema (migration `v2`): `job(id PRIMARY KEY, api, kind, submission, token, status, message,
/// batches_total, items_total, completion, completion_worker, completion_until, created_at,
/// started_at, ended_at, exit)` and `work_item(queue, id, seq, payload, content_type, items,
/// state, receives, receipt, worker, lease_until, error, finished_at)` with primary key (queue,
/// id) and an index on (queue, state, seq). Item states: `queued`, `leased`, `done`, `dead`.
/// Times are Unix seconds (REAL), passed in by the caller so that tests choose them.
extension Store {
    static func registerJobMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2") { db in
            try db.create(table: "job") { table in
                table.column("id", .text).primaryKey()
                table.column("api", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("submission", .blob).notNull()
                table.column("token", .text).notNull()
                table.column("status", .text).notNull()
                table.column("message", .text)
                table.column("batches_total", .integer).notNull().defaults(to: 0)
                table.column("items_total", .integer).notNull().defaults(to: 0)
                table.column("completion", .text).notNull().defaults(to: "pending")
                table.column("completion_worker", .text)
                table.column("completion_until", .double)
                table.column("created_at", .double).notNull()
                table.column("started_at", .double)
                table.column("ended_at", .double)
                table.column("exit", .text)
            }
            try db.create(table: "work_item") { table in
                table.column("queue", .text).notNull()
                table.column("id", .text).notNull()
                table.column("seq", .integer).notNull()
                table.column("payload", .blob).notNull()
                table.column("content_type", .text)
                table.column("items", .integer).notNull().defaults(to: 1)
                table.column("state", .text).notNull().defaults(to: "queued")
                table.column("receives", .integer).notNull().defaults(to: 0)
                table.column("receipt", .text)
                table.column("worker", .text)
                table.column("lease_until", .double)
                table.column("error", .text)
                table.column("finished_at", .double)
                table.primaryKey(["queue", "id"])
            }
            try db.create(index: "work_item_state", on: "work_item", columns: ["queue", "state", "seq"])
        }
    }

    /// Stores a new job (status `enqueuing`).
    public func insertJob(_ job: StoredJob) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO job (id, api, kind, submission, token, status, message, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [job.id, job.api, job.kind.rawValue, Data(job.submission), job.token, job.status.rawValue, job.message, job.createdAt])
        }
    }

    /// One job; with `withSubmission` false its ``StoredJob/submission`` is left empty (an
    /// `item_list` submission can be megabytes, and the work protocol reads the job per request).
    public func job(id: String, withSubmission: Bool = true) throws -> StoredJob? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.columns(withSubmission)) FROM job WHERE id = ?", arguments: [id]).map(Self.job(from:))
        }
    }

    /// Jobs of `api` (every API when nil), newest first; `withSubmission` as in ``job(id:withSubmission:)``.
    public func jobs(api: String?, withSubmission: Bool = true) throws -> [StoredJob] {
        try database.read { db in
            let columns = Self.columns(withSubmission)
            let rows =
                if let api {
                    try Row.fetchAll(db, sql: "SELECT \(columns) FROM job WHERE api = ? ORDER BY id DESC", arguments: [api])
                } else {
                    try Row.fetchAll(db, sql: "SELECT \(columns) FROM job ORDER BY id DESC")
                }
            return try rows.map(Self.job(from:))
        }
    }

    private static func columns(_ withSubmission: Bool) -> String {
        withSubmission
            ? "*"
            : "id, api, kind, X'' AS submission, token, status, message, batches_total, items_total, completion, completion_worker, "
                + "completion_until, created_at, started_at, ended_at, exit"
    }

    /// Sets a job's status and message (and `ended_at` for a final status, `started_at` once).
    public func setJobStatus(id: String, _ status: JobStatus, message: String?, now: Double, exit: String? = nil) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE job SET status = ?, message = ?, exit = COALESCE(?, exit),
                      ended_at = CASE WHEN ? THEN COALESCE(ended_at, ?) ELSE ended_at END
                    WHERE id = ?
                    """,
                arguments: [status.rawValue, message, exit, status.isFinal, now, id])
        }
    }

    /// Makes a finished job `running` again with `on_job_complete` pending (after a retry).
    public func reopenJob(id: String) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE job SET status = ?, message = NULL, ended_at = NULL, completion = 'pending' WHERE id = ?",
                arguments: [JobStatus.running.rawValue, id])
        }
    }

    /// Records when the job's workers first started.
    public func markJobStarted(id: String, now: Double) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE job SET started_at = COALESCE(started_at, ?) WHERE id = ?", arguments: [now, id])
        }
    }

    /// Stores the job's batches (`payloads[i]` is batch `i`, with `items[i]` items) and makes it
    /// `running`. The batches go in in transactions of ``enqueueChunk`` so that other requests
    /// are served in between (a million-line input takes seconds); the job turns `running` only
    /// in the last one, and batches stored by an earlier attempt (a server killed while
    /// enqueuing) are deleted first.
    public func enqueueBatches(job id: String, payloads: [[UInt8]], items: [Int]) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM work_item WHERE queue = ?", arguments: [id]) }
        var start = 0
        while start < payloads.count {
            let end = min(start + Self.enqueueChunk, payloads.count)
            try database.write { db in
                let statement = try db.makeStatement(
                    sql: "INSERT INTO work_item (queue, id, seq, payload, items) VALUES (?, ?, ?, ?, ?)")
                for index in start..<end {
                    try statement.execute(arguments: [id, String(index), index, Data(payloads[index]), items[index]])
                }
            }
            start = end
        }
        try database.write { db in
            try db.execute(
                sql: "UPDATE job SET status = ?, batches_total = ?, items_total = ? WHERE id = ? AND status = ?",
                arguments: [JobStatus.running.rawValue, payloads.count, items.reduce(0, +), id, JobStatus.enqueuing.rawValue])
        }
    }

    /// Batches stored per transaction by ``enqueueBatches(job:payloads:items:)``.
    static let enqueueChunk = 500

    /// Leases the first queued item of `queue` to `worker` until `now + leaseSeconds`, counting one
    /// receive; nil when none is queued. A worker works on one item at a time, so an item it still
    /// holds was lost with its previous process (it crashed and was restarted under the same id)
    /// and is queued again first, its receive counted, instead of waiting for the lease to expire;
    /// once it was received more than `retries` times it goes to the dead-letter list instead (an
    /// item that crashes its worker every time, or whose report the worker cannot deliver).
    public func lease(
        queue: String, worker: String, receipt: String, now: Double, leaseSeconds: Double, retries: Int = JobSpec.defaultRetries
    ) throws -> LeasedItem? {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE work_item SET state = CASE WHEN receives > ? THEN 'dead' ELSE 'queued' END,
                      receipt = NULL, lease_until = NULL,
                      finished_at = CASE WHEN receives > ? THEN ? ELSE NULL END,
                      error = 'the worker (' || worker || ') exited or gave up while working on it'
                        || CASE WHEN receives > ? THEN ' on each of its ' || receives || ' deliveries' ELSE '' END
                    WHERE queue = ? AND worker = ? AND state = 'leased'
                    """,
                arguments: [retries, retries, now, retries, queue, worker])
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, payload, content_type FROM work_item WHERE queue = ? AND state = 'queued' ORDER BY seq LIMIT 1",
                    arguments: [queue])
            else { return nil }
            let id: String = row["id"]
            try db.execute(
                sql: """
                    UPDATE work_item SET state = 'leased', receipt = ?, worker = ?, lease_until = ?, receives = receives + 1
                    WHERE queue = ? AND id = ?
                    """,
                arguments: [receipt, worker, now + leaseSeconds, queue, id])
            let payload: Data = row["payload"]
            return LeasedItem(id: id, payload: [UInt8](payload), contentType: row["content_type"])
        }
    }

    /// Extends the lease of `id` held with `receipt`; false when that lease is gone.
    public func heartbeat(queue: String, id: String, receipt: String, now: Double, leaseSeconds: Double) throws -> Bool {
        try database.write { db in
            try db.execute(
                sql: "UPDATE work_item SET lease_until = ? WHERE queue = ? AND id = ? AND state = 'leased' AND receipt = ?",
                arguments: [now + leaseSeconds, queue, id, receipt])
            return db.changesCount == 1
        }
    }

    /// Marks `id` done when `receipt` is its current lease (so an item is marked done once);
    /// false otherwise.
    public func markDone(queue: String, id: String, receipt: String, now: Double) throws -> Bool {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE work_item SET state = 'done', finished_at = ?, lease_until = NULL, error = NULL
                    WHERE queue = ? AND id = ? AND state = 'leased' AND receipt = ?
                    """,
                arguments: [now, queue, id, receipt])
            return db.changesCount == 1
        }
    }

    /// Records a failure of the lease `receipt` of `id`: the item is queued again, or goes to the
    /// dead-letter list once it was received more than `retries` times. False when the lease is gone.
    public func markFailed(queue: String, id: String, receipt: String, error: String, retries: Int, now: Double) throws -> Bool {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE work_item SET state = CASE WHEN receives > ? THEN 'dead' ELSE 'queued' END,
                      error = ?, lease_until = NULL, receipt = NULL,
                      finished_at = CASE WHEN receives > ? THEN ? ELSE NULL END
                    WHERE queue = ? AND id = ? AND state = 'leased' AND receipt = ?
                    """,
                arguments: [retries, error, retries, now, queue, id, receipt])
            return db.changesCount == 1
        }
    }

    /// The state of item `id` of `queue` (`queued`, `leased`, `done` or `dead`); nil when there is
    /// no such item.
    public func itemState(queue: String, id: String) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM work_item WHERE queue = ? AND id = ?", arguments: [queue, id])
        }
    }

    /// Gives back every lease of `queue` that expired before `now` (queued again, or dead after
    /// `retries` retries); returns how many.
    @discardableResult
    public func expireLeases(queue: String, now: Double, retries: Int, leaseSeconds: Double) throws -> Int {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE work_item SET state = CASE WHEN receives > ? THEN 'dead' ELSE 'queued' END,
                      error = 'the worker (' || COALESCE(worker, '?') || ') stopped heart-beating: its lease expired after '
                        || ? || ' s', receipt = NULL, lease_until = NULL,
                      finished_at = CASE WHEN receives > ? THEN ? ELSE NULL END
                    WHERE queue = ? AND state = 'leased' AND lease_until < ?
                    """,
                arguments: [retries, Int(leaseSeconds), retries, now, queue, now])
            return db.changesCount
        }
    }

    /// Gives back every lease of `queue` without counting the receive (its workers died with a
    /// previous `tern serve`); returns how many.
    @discardableResult
    public func releaseLeases(queue: String) throws -> Int {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE work_item SET state = 'queued', receives = MAX(receives - 1, 0), receipt = NULL, lease_until = NULL
                    WHERE queue = ? AND state = 'leased'
                    """,
                arguments: [queue])
            return db.changesCount
        }
    }

    /// Counts of `queue`'s items by state.
    public func counts(queue: String) throws -> QueueCounts {
        try database.read { db in
            var counts = QueueCounts()
            for row in try Row.fetchAll(
                db, sql: "SELECT state, COUNT(*) AS n, SUM(items) AS items FROM work_item WHERE queue = ? GROUP BY state",
                arguments: [queue])
            {
                let n: Int = row["n"]
                switch row["state"] as String {
                case "queued": counts.queued = n
                case "leased": counts.leased = n
                case "done":
                    counts.done = n
                    counts.itemsDone = row["items"]
                case "dead": counts.dead = n
                default: break
                }
            }
            return counts
        }
    }

    /// The dead-letter list of `queue`, in input order.
    public func deadLetters(queue: String) throws -> [DeadLetter] {
        try database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, receives, error, items FROM work_item WHERE queue = ? AND state = 'dead' ORDER BY seq",
                arguments: [queue]
            ).map { DeadLetter(batchID: $0["id"], receives: $0["receives"], error: $0["error"], items: $0["items"]) }
        }
    }

    /// Puts the dead letters of `queue` back in the queue with their receives reset; returns how many.
    public func requeueDeadLetters(queue: String) throws -> Int {
        try database.write { db in
            try db.execute(
                sql: "UPDATE work_item SET state = 'queued', receives = 0, finished_at = NULL WHERE queue = ? AND state = 'dead'",
                arguments: [queue])
            return db.changesCount
        }
    }

    /// Hands `on_job_complete` to `worker` until `until` when it is pending (or its holder's time
    /// ran out); true when `worker` now holds it.
    public func leaseCompletion(job id: String, worker: String, now: Double, until: Double) throws -> Bool {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE job SET completion = 'leased', completion_worker = ?, completion_until = ?
                    WHERE id = ? AND (completion = 'pending' OR (completion = 'leased' AND (completion_until < ? OR completion_worker = ?)))
                    """,
                arguments: [worker, until, id, now, worker])
            return db.changesCount == 1
        }
    }

    /// Marks `on_job_complete` as run (by `worker`, its holder); false for another worker.
    public func completeCompletion(job id: String, worker: String) throws -> Bool {
        try database.write { db in
            try db.execute(
                sql: "UPDATE job SET completion = 'done' WHERE id = ? AND completion = 'leased' AND completion_worker = ?",
                arguments: [id, worker])
            return db.changesCount == 1
        }
    }

    /// Deletes jobs that ended before `cutoff` (Unix seconds) with their items; returns how many.
    @discardableResult
    public func deleteJobs(endedBefore cutoff: Double) throws -> Int {
        try database.write { db in
            let ids = try String.fetchAll(db, sql: "SELECT id FROM job WHERE ended_at IS NOT NULL AND ended_at < ?", arguments: [cutoff])
            for id in ids {
                try db.execute(sql: "DELETE FROM work_item WHERE queue = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM job WHERE id = ?", arguments: [id])
            }
            return ids.count
        }
    }

    private static func job(from row: Row) throws -> StoredJob {
        let submission: Data = row["submission"]
        return StoredJob(
            id: row["id"], api: row["api"], kind: APIKind(rawValue: row["kind"]) ?? .batchAPI, submission: [UInt8](submission),
            token: row["token"], status: JobStatus(rawValue: row["status"]) ?? .stopped, message: row["message"],
            batchesTotal: row["batches_total"], itemsTotal: row["items_total"], completion: row["completion"],
            completionWorker: row["completion_worker"], completionUntil: row["completion_until"], createdAt: row["created_at"],
            startedAt: row["started_at"], endedAt: row["ended_at"], exit: row["exit"])
    }
}
