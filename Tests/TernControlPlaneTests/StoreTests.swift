import Foundation
import TernControlPlane
import TernCore
import TernTesting
import Testing

@Suite struct StoreTests {
    private func spec(_ name: String, threads: Int = 1) throws -> APISpec {
        let yaml = SpecYAML.realtime(
            name: name, path: "src/predictor.py",
            predictor: ["env": ["LOG_LEVEL": "debug"], "threads_per_process": "\(threads)"],
            config: ["threshold": 0.25, "labels": ["a", "\"b c\""], "nested": ["on": true, "none": "null"]],
            networking: ["endpoint": "/models/\(name)", "request_timeout": "30s"], compute: ["cpu": "500m", "mem": "1Gi"],
            minReplicas: 1, maxReplicas: 5, autoscaling: ["max_replica_concurrency": 4],
            extra: "monitoring: {model_type: classification, key: label}")
        let config = try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml")
        return try #require(config.apis.first)
    }

    @Test func revisionsAreNumberedFromOnePerAPI() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        #expect(try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "").revision == 1)
        #expect(
            try store.addRevision(spec: spec("iris", threads: 2), bundleDigest: "d2", configDirectory: "").revision == 2
        )
        #expect(try store.addRevision(spec: spec("bert"), bundleDigest: "d3", configDirectory: "nlp").revision == 1)
        #expect(
            try store.addRevision(spec: spec("iris", threads: 3), bundleDigest: "d4", configDirectory: "").revision == 3
        )
    }

    @Test func deployedRevisionsAreTheLatestOfEachAPIOrderedByName() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        _ = try store.addRevision(spec: spec("iris", threads: 2), bundleDigest: "d2", configDirectory: "")
        _ = try store.addRevision(spec: spec("bert"), bundleDigest: "d3", configDirectory: "nlp")

        let deployed = try store.deployedRevisions()
        #expect(deployed.map(\.api) == ["bert", "iris"])
        #expect(deployed.map(\.revision) == [1, 2])
        #expect(deployed.map(\.bundleDigest) == ["d3", "d2"])
        #expect(deployed.map(\.configDirectory) == ["nlp", ""])
        #expect(try store.deployedRevision(api: "iris")?.spec == spec("iris", threads: 2))
        #expect(try store.deployedRevision(api: "missing") == nil)
        #expect(try store.referencedBundles() == ["d1", "d2", "d3"])
    }

    @Test func storedSpecReadsBackEqual() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        let original = try spec("iris")
        let added = try store.addRevision(spec: original, bundleDigest: "d1", configDirectory: "")
        let read = try #require(try store.deployedRevision(api: "iris"))
        #expect(read.spec == original)
        #expect(read.api == added.api)
        #expect(read.revision == added.revision)
        #expect(abs(read.createdAt.timeIntervalSince(added.createdAt)) < 0.001)
    }

    @Test func deletedAPIIsGoneWithItsRevisions() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        _ = try store.addRevision(spec: spec("iris", threads: 2), bundleDigest: "d2", configDirectory: "")
        _ = try store.addRevision(spec: spec("bert"), bundleDigest: "d3", configDirectory: "")

        #expect(try store.deleteAPI("iris") == true)
        #expect(try store.deleteAPI("iris") == false)
        #expect(try store.deleteAPI("never") == false)
        #expect(try store.deployedRevisions().map(\.api) == ["bert"])
        #expect(try store.referencedBundles() == ["d3"])
        // A new API of the same name starts over.
        #expect(try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "").revision == 1)
    }

    @Test func reopenedDatabaseKeepsEverything() throws {
        let folder = try TemporaryDirectory()
        let path = folder.path + "/tern.db"
        do {
            let store = try Store(path: path)
            _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
            _ = try store.addRevision(spec: spec("iris", threads: 4), bundleDigest: "d2", configDirectory: "models")
            _ = try store.addRevision(spec: spec("bert"), bundleDigest: "d3", configDirectory: "")
            _ = try store.deleteAPI("bert")
        }
        let reopened = try Store(path: path)
        let deployed = try reopened.deployedRevisions()
        #expect(deployed.map(\.api) == ["iris"])
        #expect(deployed.first?.revision == 2)
        #expect(deployed.first?.spec == (try spec("iris", threads: 4)))
        #expect(deployed.first?.configDirectory == "models")
        #expect(try reopened.addRevision(spec: spec("iris"), bundleDigest: "d5", configDirectory: "").revision == 3)
    }
}

/// Durability of the store (docs/reliability.md, State durability).
@Suite struct StoreDurabilityTests {
    private func spec(_ name: String, min: Int = 1, max: Int = 5) throws -> APISpec {
        let config = try ConfigLoader.load(
            yaml: SpecYAML.realtime(name: name, minReplicas: min, maxReplicas: max), fileName: "tern.yaml")
        return try #require(config.apis.first)
    }

    @Test func theStoreIsInWALModeWithSynchronousNormal() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        let settings = try store.durabilitySettings()
        #expect(settings.journalMode == "wal")
        #expect(settings.synchronous == 1)  // NORMAL
        #expect(FileManager.default.fileExists(atPath: folder.path + "/tern.db-wal"))
        // Reopened: the same (journal_mode is stored in the file, synchronous set per connection).
        let reopened = try Store(path: folder.path + "/tern.db")
        #expect(try reopened.durabilitySettings().journalMode == "wal")
        #expect(try reopened.durabilitySettings().synchronous == 1)
    }

    @Test func desiredReplicaCountsAreKeptAcrossReopeningAndNewRevisionsAndGoWithTheAPI() throws {
        let folder = try TemporaryDirectory()
        let path = folder.path + "/tern.db"
        let store = try Store(path: path)
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        _ = try store.addRevision(spec: spec("bert"), bundleDigest: "d1", configDirectory: "")
        #expect(try store.desiredReplicas() == [:])
        try store.setDesiredReplicas(api: "iris", count: 3)
        try store.setDesiredReplicas(api: "never-deployed", count: 2)
        _ = try store.addRevision(spec: spec("iris", max: 4), bundleDigest: "d2", configDirectory: "")
        #expect(try Store(path: path).desiredReplicas() == ["iris": 3])
        try store.deleteAPI("iris")
        #expect(try store.desiredReplicas() == [:])
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d3", configDirectory: "")
        #expect(try store.desiredReplicas() == [:])
    }

    @Test func theRevisionsOfOneDeployAreStoredTogether() throws {
        let folder = try TemporaryDirectory()
        let store = try Store(path: folder.path + "/tern.db")
        _ = try store.addRevision(spec: spec("iris"), bundleDigest: "d1", configDirectory: "")
        let added = try store.addRevisions(specs: [spec("iris", max: 3), spec("bert")], bundleDigest: "d2", configDirectory: "p")
        #expect(added.map(\.api) == ["iris", "bert"])
        #expect(added.map(\.revision) == [2, 1])
        #expect(try store.deployedRevisions().map(\.bundleDigest) == ["d2", "d2"])
    }
}
