import Foundation
import HTTPTypes
import Logging
import TernControlPlane
import TernCore
import TernTesting
import Testing

/// The gateway's routing table as the control plane drives it: what was set and removed, in
/// order, and how many backend commands had been made when each route went.
private actor RecordingRoutes: RouteTable, InFlightSource {
    enum Event: Equatable {
        case setRoute(api: String, endpoint: String)
        case setSplit(api: String, targets: [TrafficTarget])
        case removeRoute(api: String, backendCommandsBefore: Int)
    }

    let backend: RecordingBackend
    private(set) var events: [Event] = []

    init(backend: RecordingBackend) { self.backend = backend }

    func setRoute(_ spec: APISpec) async { events.append(.setRoute(api: spec.name, endpoint: spec.networking.endpoint)) }
    func setSplit(api: String, endpoint: String, targets: [TrafficTarget]) async {
        events.append(.setSplit(api: api, targets: targets))
    }
    func setQueueRoute(api: String, endpoint: String) async {}  // job kinds are not under test here
    func removeRoute(api: String) async {
        events.append(.removeRoute(api: api, backendCommandsBefore: await backend.commands.count))
    }
    // Key pushes are checked end to end (APIKeyTests); these tests look at the route order only.
    func setAPIKeys(api: String, keys: [GatewayKey]) async {}
    func inFlight(api: String) async -> Int { 0 }
}

/// A control plane over a real SQLite file and a ``RecordingBackend``, in a fresh folder.
private struct Harness {
    let folder: TemporaryDirectory
    let backend: RecordingBackend
    let routes: RecordingRoutes
    let controlPlane: ControlPlane

    /// Opens (or reopens) the store of `folder`, with a new backend.
    init(folder: TemporaryDirectory? = nil) throws {
        let folder = try folder ?? TemporaryDirectory()
        self.folder = folder
        backend = RecordingBackend()
        routes = RecordingRoutes(backend: backend)
        controlPlane = ControlPlane(
            store: try Store(path: folder.path + "/tern.db"),
            extractor: BundleExtractor(bundlesDirectory: folder.path + "/bundles"), backend: backend, routes: routes,
            inFlight: routes, gatewayURL: "http://127.0.0.1:8888", logger: Logger(label: "test"))
    }

    /// Deploys a project of `tern.yaml` with `yaml`, a predictor and the given `.env` text.
    @discardableResult
    func deploy(_ yaml: String, dotEnv: String? = nil, force: Bool = false) async throws -> DeployResult {
        var entries: [ZipEntry] = [
            .file("tern.yaml", yaml), .file("predictor.py", "class PythonPredictor:\n    def predict(self, payload):\n        return 1\n"),
        ]
        if let dotEnv { entries.append(.file(".env", dotEnv)) }
        return try await controlPlane.deploy(bundle: try makeZip(entries), configPath: "tern.yaml", force: force)
    }

    /// The deployments the backend was asked to apply, as (api, revision).
    func applied() async -> [String] {
        await backend.commands.compactMap {
            if case .apply(let deployment) = $0 { "\(deployment.spec.name) r\(deployment.revision)" } else { nil }
        }
    }
}

private let iris = SpecYAML.realtime(
    name: "iris", predictor: ["env": ["LOG_LEVEL": "debug", "SHARED": "from-spec"]], minReplicas: 1, maxReplicas: 4,
    initReplicas: 2)

@Suite struct ControlPlaneBackendTests {
    @Test func deployAppliesRevisionOneWithTheProjectFolderAndEnvironment() async throws {
        let harness = try Harness()
        let result = try await harness.deploy(iris, dotEnv: "SHARED=from-dotenv\nONLY_DOTENV=1\n")

        #expect(result == DeployResult(apis: [.init(name: "iris", action: .created, revision: 1)]))
        let commands = await harness.backend.commands
        #expect(commands.count == 1, "\(commands)")
        guard case .apply(let deployment) = try #require(commands.first) else {
            Issue.record("expected apply, got \(commands)")
            return
        }
        #expect(deployment.revision == 1)
        #expect(deployment.spec == (try ConfigLoader.load(yaml: iris, fileName: "tern.yaml").apis.first))
        #expect(deployment.spec.autoscaling.initReplicas == 2)
        // The extracted bundle: bundles/<digest>, holding the project's files.
        #expect(deployment.projectDirectory.hasPrefix(harness.folder.path + "/bundles/"))
        #expect(FileManager.default.fileExists(atPath: deployment.projectDirectory + "/predictor.py"))
        // predictor.env wins over .env.
        #expect(deployment.environment == ["SHARED": "from-spec", "ONLY_DOTENV": "1", "LOG_LEVEL": "debug"])
        #expect(await harness.routes.events == [.setRoute(api: "iris", endpoint: "/iris")])
        // Two replicas start; `tern get` shows them until they are ready.
        let document = try await harness.controlPlane.get("iris")
        #expect(document.status == .updating)
        #expect(document.requestedReplicas == 2)
        #expect(document.replicas.map(\.id) == ["iris-1", "iris-2"])
        #expect(document.replicas.map(\.state) == [.starting, .starting])
    }

    @Test func changedSpecAppliesTheNextRevisionAndAnUnchangedOneAppliesNothing() async throws {
        let harness = try Harness()
        try await harness.deploy(iris)
        try await harness.backend.markReady(api: "iris")
        #expect(try await harness.controlPlane.get("iris").status == .live)

        let same = try await harness.deploy(iris)
        #expect(same == DeployResult(apis: [.init(name: "iris", action: .unchanged, revision: 1)]))
        #expect(await harness.applied() == ["iris r1"])

        let threads = SpecYAML.realtime(
            name: "iris", predictor: ["env": ["LOG_LEVEL": "debug", "SHARED": "from-spec"], "threads_per_process": 2],
            minReplicas: 1, maxReplicas: 4, initReplicas: 2)
        let changed = try await harness.deploy(threads)
        #expect(changed == DeployResult(apis: [.init(name: "iris", action: .updated, revision: 2)]))
        #expect(await harness.applied() == ["iris r1", "iris r2"])
        // Revision 1 serves until revision 2 is ready.
        let updating = try await harness.controlPlane.get("iris")
        #expect(updating.status == .updating)
        #expect(updating.revision == 2)
        #expect(updating.readyReplicas == 2)
        #expect(updating.replicas.map(\.revision) == [2, 2, 1, 1])
        try await harness.backend.markReady(api: "iris")
        let live = try await harness.controlPlane.get("iris")
        #expect(live.status == .live)
        #expect(live.replicas.map(\.id) == ["iris-3", "iris-4"])
    }

    @Test func deployDuringAnUpdateIsRefusedWithoutApplyingUnlessForced() async throws {
        let harness = try Harness()
        try await harness.deploy(iris)
        try await harness.backend.markReady(api: "iris")
        try await harness.deploy(SpecYAML.realtime(name: "iris", config: ["version": "v2"], minReplicas: 1, maxReplicas: 4))
        // Revision 2 never gets ready: both revisions run.
        let v3 = SpecYAML.realtime(name: "iris", config: ["version": "v3"], minReplicas: 1, maxReplicas: 4)
        let refusal = await #expect(throws: ControlPlaneError.self) { try await harness.deploy(v3) }
        #expect(refusal?.status == .conflict)
        #expect(refusal?.kind == .updateInProgress)
        #expect(refusal?.api == "iris")
        #expect(await harness.applied() == ["iris r1", "iris r2"])
        #expect(await harness.backend.calls.contains(.status(api: "iris")))

        let forced = try await harness.deploy(v3, force: true)
        #expect(forced == DeployResult(apis: [.init(name: "iris", action: .updated, revision: 3)]))
        #expect(await harness.applied() == ["iris r1", "iris r2", "iris r3"])
    }

    @Test func deleteRemovesTheRouteFirstThenStopsTheReplicas() async throws {
        let harness = try Harness()
        try await harness.deploy(iris)
        await harness.backend.clearCalls()

        try await harness.controlPlane.delete("iris")

        #expect(await harness.backend.commands == [.remove(api: "iris")])
        // The route went while the backend had not been told anything yet.
        #expect(
            await harness.routes.events == [
                .setRoute(api: "iris", endpoint: "/iris"), .removeRoute(api: "iris", backendCommandsBefore: 0),
            ])
        #expect(await harness.backend.apiNames == [])
        await #expect(throws: ControlPlaneError.self) { try await harness.controlPlane.get("iris") }
        // Deleting again is a 404 that reaches neither the routes nor the backend.
        await #expect(throws: ControlPlaneError.self) { try await harness.controlPlane.delete("iris") }
        #expect(await harness.backend.commands == [.remove(api: "iris")])
    }

    @Test func aSplitterReplacingARealtimeAPIRemovesItsReplicasAndRefreshIsRefused() async throws {
        let harness = try Harness()
        try await harness.deploy(SpecYAML.realtime(name: "a") + SpecYAML.realtime(name: "b"))
        try await harness.deploy(
            SpecYAML.realtime(name: "a") + SpecYAML.trafficSplitter(name: "b", apis: ["a": 100]), force: true)

        // `a` runs the new bundle (its tern.yaml changed); `b` becomes a weighted route.
        #expect(await harness.applied() == ["a r1", "b r1", "a r2"])
        #expect(await harness.backend.commands.last == .remove(api: "b"))
        #expect(await harness.backend.apiNames == ["a"])
        #expect(await harness.routes.events.last == .setSplit(api: "b", targets: [TrafficTarget(name: "a", weight: 100)]))
        await harness.backend.clearCalls()
        await #expect(throws: ControlPlaneError.self) { try await harness.controlPlane.refresh("b") }
        try await harness.controlPlane.refresh("a")
        #expect(await harness.backend.commands == [.refresh(api: "a")])
    }

    @Test func logsPassTheirOptionsToTheBackendAndReturnItsLines() async throws {
        let harness = try Harness()
        try await harness.deploy(iris)
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        await harness.backend.setLogs(
            [
                LogLine(timestamp: start, source: "tern", text: "deploying revision 1"),
                LogLine(timestamp: start, source: "iris-1", text: "loading"),
                LogLine(timestamp: start, source: "iris-1", text: "ready"),
                LogLine(timestamp: start, source: "iris-2", text: "loading"),
            ], api: "iris")

        var texts: [String] = []
        for try await line in try await harness.controlPlane.logs("iris", replica: "iris-1", follow: false, tail: 1) {
            texts.append(line.text)
        }

        #expect(texts == ["ready"])
        #expect(await harness.backend.calls.last == .logs(api: "iris", replica: "iris-1", follow: false, tail: 1))
    }

    @Test func followedLogsEndWhenTheAPIIsDeleted() async throws {
        let harness = try Harness()
        try await harness.deploy(iris)
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let stream = try await harness.controlPlane.logs("iris", follow: true, tail: nil)
        await harness.backend.appendLogs([LogLine(timestamp: start, source: "iris-1", text: "serving")], api: "iris")
        try await harness.controlPlane.delete("iris")

        var texts: [String] = []
        for try await line in stream { texts.append(line.text) }
        #expect(texts == ["serving"])
    }

    @Test func restoreAppliesEveryStoredRevisionToANewBackend() async throws {
        let first = try Harness()
        try await first.deploy(iris)
        try await first.deploy(
            SpecYAML.realtime(name: "iris", config: ["version": "v2"], minReplicas: 1, maxReplicas: 4), force: true)
        try await first.deploy(SpecYAML.realtime(name: "bert", path: "bert.py"))

        // `tern serve` starts again over the same TERN_HOME.
        let second = try Harness(folder: first.folder)
        try await second.controlPlane.restore()

        #expect(await second.applied() == ["bert r1", "iris r2"])
        let deployments = await second.backend.commands.compactMap { call -> Deployment? in
            if case .apply(let deployment) = call { deployment } else { nil }
        }
        #expect(deployments.map(\.spec.predictor?.path) == ["bert.py", "predictor.py"])
        #expect(await second.routes.events.count == 2)
    }

    @Test func restoreStartsEachAPIWithItsStoredReplicaCountClampedToTheSpec() async throws {
        let first = try Harness()
        try await first.deploy(iris)  // min 1, max 4, init 2
        try await first.deploy(SpecYAML.realtime(name: "bert", path: "bert.py", minReplicas: 2, maxReplicas: 3))
        try await first.deploy(SpecYAML.realtime(name: "cat", path: "cat.py", initReplicas: 1))
        let store = try Store(path: first.folder.path + "/tern.db")
        try store.setDesiredReplicas(api: "iris", count: 7)
        try store.setDesiredReplicas(api: "bert", count: 0)

        let second = try Harness(folder: first.folder)
        try await second.controlPlane.restore()
        let deployments = await second.backend.commands.compactMap { call -> Deployment? in
            if case .apply(let deployment) = call { deployment } else { nil }
        }
        #expect(deployments.map(\.spec.name) == ["bert", "cat", "iris"])
        #expect(deployments.map(\.initialReplicas) == [2, nil, 4])
        #expect(await second.backend.requestedReplicas(api: "iris") == 4)
        #expect(await second.backend.requestedReplicas(api: "cat") == 1)
    }

    @Test func theRecorderStoresTheCountTheBackendTakesAndNothingForAnUnknownAPI() async throws {
        let harness = try Harness()
        try await harness.deploy(iris)
        let store = try Store(path: harness.folder.path + "/tern.db")
        let recorder = ReplicaCountRecorder(scaler: harness.backend, store: store, logger: Logger(label: "test"))
        await recorder.setReplicas(api: "iris", count: 3)
        #expect(try store.desiredReplicas() == ["iris": 3])
        await recorder.setReplicas(api: "unknown", count: 2)
        #expect(try store.desiredReplicas() == ["iris": 3])
        #expect(await recorder.requestedReplicas(api: "iris") == 3)
    }

    @Test func garbageCollectionKeepsOnlyTheDeployedBundlesAndRunsOnlyAfterRestore() async throws {
        let harness = try Harness()
        let bundles = harness.folder.path + "/bundles"
        try await harness.deploy(iris)
        let first = harness.folder.contents(of: "bundles")
        try await harness.deploy(SpecYAML.realtime(name: "iris", config: ["version": "v2"], minReplicas: 1, maxReplicas: 4))
        try FileManager.default.createDirectory(atPath: bundles + "/0123456789abcdef.tmp-crashed", withIntermediateDirectories: true)
        // Not restored yet: nothing is collected (an API not yet applied may need its files).
        await harness.controlPlane.collectGarbage()
        #expect(harness.folder.contents(of: "bundles").count == 3)
        #expect(await harness.backend.garbageCollections == 0)

        try await harness.controlPlane.restore()
        let deployed = harness.folder.contents(of: "bundles").filter { !first.contains($0) && !$0.contains(".") }
        #expect(deployed.count == 1)
        #expect(harness.folder.contents(of: "bundles") == deployed)
        #expect(await harness.backend.garbageCollections >= 1)

        try await harness.controlPlane.delete("iris")
        await harness.controlPlane.collectGarbage()
        #expect(harness.folder.contents(of: "bundles") == [])
    }
}
