import Foundation
import GRDB
import Synchronization
import TernCore

/// One deployed revision of an API, as stored.
public struct StoredRevision: Sendable, Equatable {
    /// API name.
    public var api: String
    /// Revision number (1, 2, …).
    public var revision: Int
    /// The validated spec.
    public var spec: APISpec
    /// Digest of the project bundle the revision runs (names its folder under `TERN_HOME/bundles`).
    public var bundleDigest: String
    /// Folder of `tern.yaml` inside the extracted bundle, relative to the bundle folder ("" for its root).
    public var configDirectory: String
    /// When it was deployed.
    public var createdAt: Date
}

/// Tern's state in SQLite (`TERN_HOME/tern.db`): APIs and their revisions.
///
/// Schema (migration `v1`): `revision(api, revision, spec_json, bundle_digest, config_dir,
/// created_at)` with primary key (api, revision), and `api(name PRIMARY KEY, revision)` pointing
/// at the deployed revision. Deleting an API deletes its rows (its keys too). Jobs and queued work: see
/// `Store+Jobs.swift` (migration `v2`); API keys: `Store+APIKeys.swift` (migration `api_keys`).
public final class Store: Sendable {
    let database: DatabaseQueue
    /// Decoded specs of the deployed revisions (``SpecCache``).
    private let specs = Mutex(SpecCache())

    /// Opens (creating and migrating) the database at `path`, in write-ahead-log mode with
    /// `synchronous = NORMAL` (SQLite's advice for WAL): a commit survives a crash or SIGKILL of
    /// `tern serve`, and costs no fsync; only a power loss may take the last commits back. The
    /// job queue commits a few times per batch, so this is most of its per-batch cost (measured
    /// with bench/batch.sh: the no-op predictor's per-batch overhead).
    /// - Throws: GRDB errors when the file cannot be opened or migrated.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        database = try DatabaseQueue(path: path, configuration: configuration)
        try database.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "revision") { table in
                table.column("api", .text).notNull()
                table.column("revision", .integer).notNull()
                table.column("spec_json", .text).notNull()
                table.column("bundle_digest", .text).notNull()
                table.column("config_dir", .text).notNull()
                table.column("created_at", .datetime).notNull()
                table.primaryKey(["api", "revision"])
            }
            try db.create(table: "api") { table in
                table.column("name", .text).primaryKey()
                table.column("revision", .integer).notNull()
            }
        }
        Self.registerJobMigrations(&migrator)
        Self.registerAsyncMigrations(&migrator)
        migrator.registerMigration("replica_counts") { db in
            try db.alter(table: "api") { table in table.add(column: "desired_replicas", .integer) }
        }
        Self.registerAPIKeyMigrations(&migrator)
        try migrator.migrate(database)
    }

    /// The database's `PRAGMA journal_mode` (`wal`) and `PRAGMA synchronous` (1, `NORMAL`), as
    /// a connection of this store sees them (for tests and `tern serve`'s start-up log).
    public func durabilitySettings() throws -> (journalMode: String, synchronous: Int) {
        try database.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
    }

    /// The deployed revision of every API, ordered by name. Specs come from ``SpecCache`` when
    /// their JSON did not change since they were last read.
    public func deployedRevisions() throws -> [StoredRevision] {
        let revisions = try database.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM api a JOIN revision r ON r.api = a.name AND r.revision = a.revision
                    ORDER BY a.name
                    """)
            return try rows.map(revision(from:))
        }
        let names = Set(revisions.map(\.api))
        specs.withLock { $0.keep(only: names) }
        return revisions
    }

    /// The deployed revision of `api`, if it exists.
    public func deployedRevision(api: String) throws -> StoredRevision? {
        try database.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT r.* FROM api a JOIN revision r ON r.api = a.name AND r.revision = a.revision
                    WHERE a.name = ?
                    """, arguments: [api]
            ).map(revision(from:))
        }
    }

    /// Stores a new revision of `spec.name` and makes it the deployed one; returns its number.
    public func addRevision(spec: APISpec, bundleDigest: String, configDirectory: String) throws -> StoredRevision {
        try addRevisions(specs: [spec], bundleDigest: bundleDigest, configDirectory: configDirectory)[0]
    }

    /// Stores a new revision of every spec in `specs` (one deploy of a project file) and makes
    /// each the deployed one, in one transaction: after a crash, either all of them are
    /// deployed or none. Returns them in the order of `specs`.
    public func addRevisions(specs: [APISpec], bundleDigest: String, configDirectory: String) throws -> [StoredRevision] {
        let encoded = try specs.map { (spec: $0, json: String(decoding: try JSONEncoder().encode($0), as: UTF8.self)) }
        return try database.write { db in
            try encoded.map { try Self.insertRevision(db, spec: $0.spec, json: $0.json, bundleDigest: bundleDigest, configDirectory: configDirectory) }
        }
    }

    private static func insertRevision(
        _ db: Database, spec: APISpec, json: String, bundleDigest: String, configDirectory: String
    ) throws -> StoredRevision {
        let last = try Int.fetchOne(db, sql: "SELECT MAX(revision) FROM revision WHERE api = ?", arguments: [spec.name]) ?? 0
        let stored = StoredRevision(
            api: spec.name, revision: last + 1, spec: spec, bundleDigest: bundleDigest,
            configDirectory: configDirectory, createdAt: Date())
        try db.execute(
            sql: "INSERT INTO revision (api, revision, spec_json, bundle_digest, config_dir, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [stored.api, stored.revision, json, bundleDigest, configDirectory, stored.createdAt])
        try db.execute(
            sql: "INSERT INTO api (name, revision) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET revision = excluded.revision",
            arguments: [stored.api, stored.revision])
        return stored
    }

    /// Records the replica count the autoscaler last set for `api` (kept across restarts of
    /// `tern serve`; dropped with the API). No-op for an API that is not deployed.
    public func setDesiredReplicas(api: String, count: Int) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE api SET desired_replicas = ? WHERE name = ?", arguments: [count, api])
        }
    }

    /// The replica count last recorded with ``setDesiredReplicas(api:count:)`` for each API that has one.
    public func desiredReplicas() throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, desired_replicas FROM api WHERE desired_replicas IS NOT NULL") {
                counts[row["name"]] = row["desired_replicas"]
            }
            return counts
        }
    }

    /// Deletes `api`, its revisions and its API keys, in one transaction; returns false when it
    /// did not exist.
    @discardableResult
    public func deleteAPI(_ api: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM api_key WHERE api = ?", arguments: [api])
            try db.execute(sql: "DELETE FROM revision WHERE api = ?", arguments: [api])
            try db.execute(sql: "DELETE FROM api WHERE name = ?", arguments: [api])
            specs.withLock { $0.remove(api: api) }
            return db.changesCount > 0
        }
    }

    /// How many specs the store has decoded from JSON since it was opened, and how many it
    /// holds decoded (``SpecCache``; for tests).
    var specCacheCounts: (decodes: Int, cached: Int) {
        specs.withLock { ($0.decodes, $0.count) }
    }

    /// Bundle digests referenced by any stored revision, older ones included (the garbage
    /// collector keeps only the deployed revisions' bundles: ``deployedRevisions()``).
    public func referencedBundles() throws -> Set<String> {
        try database.read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT bundle_digest FROM revision")) }
    }

    /// The revision in `row` (a `revision` row); its spec through ``SpecCache``.
    /// - Throws: `DecodingError` when `spec_json` is not an ``APISpec``.
    private func revision(from row: Row) throws -> StoredRevision {
        let api: String = row["api"]
        let json: String = row["spec_json"]
        let spec = try specs.withLock { cache in
            try cache.spec(api: api, json: json) { try JSONDecoder().decode(APISpec.self, from: Data($0.utf8)) }
        }
        return StoredRevision(
            api: api, revision: row["revision"], spec: spec,
            bundleDigest: row["bundle_digest"], configDirectory: row["config_dir"], createdAt: row["created_at"])
    }
}
