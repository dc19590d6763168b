import Foundation
import GRDB
import TernCore

/// An AsyncAPI request as stored: a `work_item` row of queue `async:<api>` with its result.
public struct StoredRequest: Sendable, Equatable {
    /// Request id.
    public var id: String
    /// `queued`, `leased`, `done` or `dead` (the queue's item states).
    public var state: String
    /// When it was submitted (Unix seconds).
    public var createdAt: Double
    /// When it was completed or failed (Unix seconds).
    public var finishedAt: Double?
    /// The result body (done).
    public var result: [UInt8]?
    /// Its content type.
    public var resultType: String?
    /// The status the predictor's answer had (200 unless it returned a response object).
    public var resultStatus: Int?
    /// Why it failed (dead).
    public var error: String?

    /// Memberwise initialiser.
    public init(
        id: String, state: String, createdAt: Double, finishedAt: Double?, result: [UInt8]?, resultType: String?, resultStatus: Int?,
        error: String?
    ) {
        self.id = id
        self.state = state
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.result = result
        self.resultType = resultType
        self.resultStatus = resultStatus
        self.error = error
    }
}

/// The AsyncAPI side of the durable queue (migration `v3`): a request is a `work_item` of queue
/// `async:<api>` whose `payload` is the request body, with the columns `result`, `result_type`,
/// `result_status` and `created_at` added for its answer. Leases, heartbeats and failures are
/// the job queue's own (``Store/lease(queue:worker:receipt:now:leaseSeconds:)`` and the rest).
extension Store {
    /// The queue name of AsyncAPI `api`'s requests.
    public static func asyncQueue(_ api: String) -> String { "async:" + api }

    static func registerAsyncMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3") { db in
            try db.alter(table: "work_item") { table in
                table.add(column: "result", .blob)
                table.add(column: "result_type", .text)
                table.add(column: "result_status", .integer)
                table.add(column: "created_at", .double)
            }
            try db.create(index: "work_item_finished", on: "work_item", columns: ["state", "finished_at"])
        }
    }

    /// Stores request `id` of `queue` at the end of the queue (state `queued`).
    public func enqueueRequest(queue: String, id: String, body: [UInt8], contentType: String?, now: Double) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO work_item (queue, id, seq, payload, content_type, created_at)
                    VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM work_item WHERE queue = ?), ?, ?, ?)
                    """,
                arguments: [queue, id, queue, Data(body), contentType, now])
        }
    }

    /// Request `id` of `queue`, or nil.
    public func request(queue: String, id: String) throws -> StoredRequest? {
        try database.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT id, state, created_at, finished_at, result, result_type, result_status, error FROM work_item WHERE queue = ? AND id = ?",
                arguments: [queue, id]
            ).map { row in
                StoredRequest(
                    id: row["id"], state: row["state"], createdAt: row["created_at"] ?? 0, finishedAt: row["finished_at"],
                    result: (row["result"] as Data?).map { [UInt8]($0) }, resultType: row["result_type"],
                    resultStatus: row["result_status"], error: row["error"])
            }
        }
    }

    /// Marks request `id` done with its result when `receipt` is its current lease; false otherwise.
    public func completeRequest(
        queue: String, id: String, receipt: String, result: [UInt8], resultType: String, status: Int, now: Double
    ) throws -> Bool {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE work_item SET state = 'done', finished_at = ?, lease_until = NULL, error = NULL,
                      result = ?, result_type = ?, result_status = ?
                    WHERE queue = ? AND id = ? AND state = 'leased' AND receipt = ?
                    """,
                arguments: [now, Data(result), resultType, status, queue, id, receipt])
            return db.changesCount == 1
        }
    }

    /// Deletes the completed and failed requests of every AsyncAPI that finished before `cutoff`
    /// (Unix seconds); returns how many.
    @discardableResult
    public func deleteRequests(finishedBefore cutoff: Double) throws -> Int {
        try database.write { db in
            try db.execute(
                sql: "DELETE FROM work_item WHERE state IN ('done', 'dead') AND finished_at < ? AND queue LIKE 'async:%'",
                arguments: [cutoff])
            return db.changesCount
        }
    }

    /// The workers holding a lease of `queue` now.
    public func leaseHolders(queue: String) throws -> Set<String> {
        try database.read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT worker FROM work_item WHERE queue = ? AND state = 'leased'", arguments: [queue]))
        }
    }

    /// Deletes every request of `queue` (its API was deleted).
    public func deleteQueue(_ queue: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM work_item WHERE queue = ?", arguments: [queue])
        }
    }
}
