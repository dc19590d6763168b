import Foundation
import GRDB
import TernCore
import TernTesting
import Testing

@testable import TernControlPlane

/// API keys in the store (`Store+APIKeys.swift`): rate limits, deletion with the API, and a
/// database made before rate limits.
@Suite struct StoreAPIKeyTests {
    private func spec(_ name: String) throws -> APISpec {
        let config = try ConfigLoader.load(yaml: SpecYAML.realtime(name: name, path: "predictor.py"), fileName: "tern.yaml")
        return try #require(config.apis.first)
    }

    private func key(_ id: String, api: String, rateLimit: RateLimit? = nil) -> StoredAPIKey {
        StoredAPIKey(
            document: APIKeyDocument(
                id: id, api: api, created: Date(timeIntervalSince1970: 1_800_000_000), prefix: "tern_\(id.suffix(4))",
                rateLimit: rateLimit),
            hash: APIKeys.hash(id))
    }

    @Test func keysKeepTheirRateLimitsAcrossReopening() throws {
        let folder = try TemporaryDirectory()
        let path = folder.path + "/tern.db"
        let limit = RateLimit(requests: 10, per: .second, burst: 20)
        do {
            let store = try Store(path: path)
            _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
            try store.addAPIKey(key("key_aaaa", api: "iris", rateLimit: limit))
            try store.addAPIKey(key("key_bbbb", api: "iris"))
        }
        let reopened = try Store(path: path)
        let keys = try reopened.apiKeys(api: "iris")
        #expect(keys.map(\.document.id) == ["key_aaaa", "key_bbbb"])
        #expect(keys.map(\.document.rateLimit) == [limit, nil])
        #expect(keys.first == key("key_aaaa", api: "iris", rateLimit: limit))
    }

    @Test func deletingAnAPIDeletesItsKeysOnly() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        _ = try store.addRevision(spec: spec("bert"), bundleDigest: "d2", configDirectory: "")
        try store.addAPIKey(key("key_aaaa", api: "iris"))
        try store.addAPIKey(key("key_bbbb", api: "iris", rateLimit: RateLimit(requests: 1, per: .hour, burst: 1)))
        try store.addAPIKey(key("key_cccc", api: "bert"))
        #expect(try store.deleteAPI("iris") == true)
        #expect(try store.apiKeys().map(\.document.id) == ["key_cccc"])
        // Deploying the name again does not bring the keys back.
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        #expect(try store.apiKeys(api: "iris").isEmpty)
        #expect(try store.deleteAPI("never") == false)
        #expect(try store.apiKeys().map(\.document.id) == ["key_cccc"])
    }

    @Test func aDatabaseFromBeforeRateLimitsOpensWithItsKeysUnlimitedAndOrphanKeysDeleted() throws {
        let folder = try TemporaryDirectory()
        let path = folder.path + "/tern.db"
        do {
            let store = try Store(path: path)
            _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        }
        // Turn it into the schema before `api_key_rate_limits`: the columns and the migration's
        // record removed, and a key of a deleted API, as `tern delete` used to leave them.
        do {
            let database = try DatabaseQueue(path: path)
            try database.write { db in
                for column in ["rate_limit_requests", "rate_limit_per", "rate_limit_burst"] {
                    try db.execute(sql: "ALTER TABLE api_key DROP COLUMN \(column)")
                }
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'api_key_rate_limits'")
                for (id, api) in [("key_aaaa", "iris"), ("key_dddd", "deleted")] {
                    try db.execute(
                        sql: "INSERT INTO api_key (id, api, hash, prefix, created_at) VALUES (?, ?, ?, 'tern_0000', 1800000000)",
                        arguments: [id, api, APIKeys.hash(id)])
                }
            }
            #expect(try database.read { db in try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('api_key')") }
                == ["id", "api", "hash", "prefix", "created_at"])
        }
        let store = try Store(path: path)
        let keys = try store.apiKeys()
        #expect(keys.map(\.document.id) == ["key_aaaa"], "the deleted API's key is gone")
        #expect(keys.first?.document.rateLimit == nil)
        #expect(keys.first?.hash == APIKeys.hash("key_aaaa"))
        #expect(try store.deployedRevision(api: "iris")?.spec == spec("iris"))
        try store.addAPIKey(key("key_eeee", api: "iris", rateLimit: RateLimit(requests: 5, per: .minute, burst: 5)))
        #expect(try store.apiKeys(api: "iris").map(\.document.rateLimit) == [nil, RateLimit(requests: 5, per: .minute, burst: 5)])
    }
}
