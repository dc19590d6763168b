import Foundation
import GRDB
import TernCore

/// A key of an API as stored (`api_key` table): never the key, only its SHA-256.
public struct StoredAPIKey: Sendable, Equatable {
    /// What is listed (id, API, creation time, prefix, rate limit).
    public var document: APIKeyDocument
    /// SHA-256 of the key, 64 lower-case hex digits (``APIKeys/hash(_:)``).
    public var hash: String
}

extension StoredAPIKey {
    /// A row of the `api_key` table (in an extension, so the memberwise initialiser stays).
    init(row: Row) {
        var rateLimit: RateLimit?
        if let requests: Int = row["rate_limit_requests"], let burst: Int = row["rate_limit_burst"],
           let per = (row["rate_limit_per"] as String?).flatMap(RateLimit.Period.init(rawValue:))
        {
            rateLimit = RateLimit(requests: requests, per: per, burst: burst)
        }
        self.init(
            document: APIKeyDocument(
                id: row["id"], api: row["api"], created: Date(timeIntervalSince1970: row["created_at"]), prefix: row["prefix"],
                rateLimit: rateLimit),
            hash: row["hash"])
    }
}

/// Per-API keys (`networking.auth: api_key`).
///
/// Schema (migrations named rather than numbered so that they merge with other new ones):
/// `api_keys`: `api_key(id PRIMARY KEY, api, hash UNIQUE, prefix, created_at)` with an index on
/// `api`; `created_at` in Unix seconds. `api_key_rate_limits`: the nullable columns
/// `rate_limit_requests`, `rate_limit_per` (`second`, `minute` or `hour`) and
/// `rate_limit_burst`, all NULL for a key without a limit (every key made before them), and
/// the keys of APIs no longer deployed deleted: a key lives as long as its API
/// (``deleteAPI(_:)`` deletes its keys in the same transaction).
extension Store {
    static func registerAPIKeyMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("api_keys") { db in
            try db.create(table: "api_key") { table in
                table.column("id", .text).primaryKey()
                table.column("api", .text).notNull().indexed()
                table.column("hash", .text).notNull().unique()
                table.column("prefix", .text).notNull()
                table.column("created_at", .double).notNull()
            }
        }
        migrator.registerMigration("api_key_rate_limits") { db in
            try db.alter(table: "api_key") { table in
                table.add(column: "rate_limit_requests", .integer)
                table.add(column: "rate_limit_per", .text)
                table.add(column: "rate_limit_burst", .integer)
            }
            // Before this migration keys outlived `tern delete`; now they are deleted with their API.
            try db.execute(sql: "DELETE FROM api_key WHERE api NOT IN (SELECT name FROM api)")
        }
    }

    /// Stores a key.
    /// - Throws: GRDB errors (a duplicate id or hash, which 256 random bits make impossible in practice).
    public func addAPIKey(_ key: StoredAPIKey) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO api_key (id, api, hash, prefix, created_at, rate_limit_requests, rate_limit_per, rate_limit_burst)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.document.id, key.document.api, key.hash, key.document.prefix,
                    key.document.created.timeIntervalSince1970, key.document.rateLimit?.requests,
                    key.document.rateLimit?.per.rawValue, key.document.rateLimit?.burst,
                ])
        }
    }

    /// The keys of `api` (every API's when nil), oldest first.
    public func apiKeys(api: String? = nil) throws -> [StoredAPIKey] {
        try database.read { db in
            let rows =
                if let api {
                    try Row.fetchAll(db, sql: "SELECT * FROM api_key WHERE api = ? ORDER BY created_at, id", arguments: [api])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM api_key ORDER BY api, created_at, id")
                }
            return rows.map(StoredAPIKey.init(row:))
        }
    }

    /// Deletes the key `id`; returns it, or nil when there is none.
    public func deleteAPIKey(id: String) throws -> StoredAPIKey? {
        try database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_key WHERE id = ?", arguments: [id]) else { return nil }
            try db.execute(sql: "DELETE FROM api_key WHERE id = ?", arguments: [id])
            return StoredAPIKey(row: row)
        }
    }
}
