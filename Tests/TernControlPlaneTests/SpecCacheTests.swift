import Foundation
import TernCore
import TernTesting
import Testing

@testable import TernControlPlane

/// The store decodes each deployed spec once (``SpecCache``) and never serves a stale one.
@Suite struct SpecCacheTests {
    private func spec(_ name: String, threads: Int = 1) throws -> APISpec {
        let yaml = SpecYAML.realtime(name: name, path: "predictor.py", predictor: ["threads_per_process": "\(threads)"])
        return try #require(try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml").apis.first)
    }

    @Test func sameTextIsDecodedOnceAndNewTextAgain() throws {
        var cache = SpecCache()
        let one = try spec("iris"), two = try spec("iris", threads: 2)
        let jsonOne = String(decoding: try JSONEncoder().encode(one), as: UTF8.self)
        let jsonTwo = String(decoding: try JSONEncoder().encode(two), as: UTF8.self)
        let decode = { (json: String) in try JSONDecoder().decode(APISpec.self, from: Data(json.utf8)) }
        #expect(try cache.spec(api: "iris", json: jsonOne, decode: decode) == one)
        #expect(try cache.spec(api: "iris", json: jsonOne, decode: decode) == one)
        #expect(cache.decodes == 1)
        #expect(try cache.spec(api: "iris", json: jsonTwo, decode: decode) == two)
        #expect(cache.decodes == 2)
        #expect(cache.count == 1)  // one entry per API: the new text replaced the old
        _ = try cache.spec(api: "bert", json: jsonOne, decode: decode)
        cache.keep(only: ["bert"])
        #expect(cache.count == 1)
        cache.remove(api: "bert")
        #expect(cache.count == 0)
        #expect(throws: DecodingError.self) { try cache.spec(api: "bad", json: "{}", decode: decode) }
        #expect(cache.count == 0)
    }

    @Test func storeReadsDecodeEachSpecOnce() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        for name in ["a", "b", "c"] { _ = try store.addRevision(spec: spec(name), bundleDigest: "d", configDirectory: "") }
        #expect(try store.deployedRevisions().map(\.spec) == [spec("a"), spec("b"), spec("c")])
        #expect(try store.deployedRevisions().map(\.api) == ["a", "b", "c"])
        #expect(try store.deployedRevision(api: "b")?.spec == spec("b"))
        #expect(store.specCacheCounts.decodes == 3)
        #expect(store.specCacheCounts.cached == 3)
        _ = try store.addRevision(spec: spec("b", threads: 4), bundleDigest: "d", configDirectory: "")
        #expect(try store.deployedRevision(api: "b")?.spec == spec("b", threads: 4))
        #expect(store.specCacheCounts.decodes == 4)
    }

    /// Revision numbers restart after a delete; the redeployed API's new spec is read, not the
    /// cached one of the deleted revision 1.
    @Test func redeployAfterDeleteReadsTheNewSpec() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        #expect(try store.deployedRevision(api: "iris")?.spec == spec("iris"))
        try store.deleteAPI("iris")
        #expect(store.specCacheCounts.cached == 0)
        let again = try store.addRevision(spec: spec("iris", threads: 3), bundleDigest: "d2", configDirectory: "")
        #expect(again.revision == 1)
        #expect(try store.deployedRevision(api: "iris")?.spec == spec("iris", threads: 3))
        #expect(try store.deployedRevisions().map(\.spec) == [spec("iris", threads: 3)])
    }
}
