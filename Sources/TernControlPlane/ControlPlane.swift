import Foundation
import HTTPTypes
import Logging
import NIOPosix
import TernCore

/// The control plane's logic: stores specs and revisions, and drives the backend and the
/// gateway's routing table to match them. The HTTP layer (``ControlPlaneServer``) only
/// translates requests to calls of this actor.
public actor ControlPlane {
    private let store: Store
    private let extractor: BundleExtractor
    private let backend: any ReplicaBackend
    private let routes: any RouteTable
    private let inFlight: any InFlightSource
    private let scaling: (any ScalingRegistry)?
    /// The gateway's request statistics, for ``APIDocument/traffic`` and ``APIDocument/predictions``.
    private let traffic: (any TrafficStatsSource)?
    /// The server's compute prices, for ``APIDocument/cost``; nil: no cost shown.
    private let pricing: ComputePricing?
    /// BatchAPI and TaskAPI jobs.
    public nonisolated let jobs: JobService?
    /// AsyncAPI queues.
    public nonisolated let asyncQueues: AsyncQueueService?
    private let logger: Logger
    /// Base URL of the gateway, for endpoint URLs in documents.
    public let gatewayURL: String

    /// Creates the control plane: `routes` is the gateway's routing table, `inFlight` where API
    /// documents read their in-flight requests, `traffic` their request statistics (none: no
    /// `traffic` in documents), `pricing` the compute prices of their `cost` (none: no cost).
    public init(
        store: Store, extractor: BundleExtractor, backend: any ReplicaBackend, routes: any RouteTable,
        inFlight: any InFlightSource, scaling: (any ScalingRegistry)? = nil, jobs: JobService? = nil,
        asyncQueues: AsyncQueueService? = nil, traffic: (any TrafficStatsSource)? = nil,
        pricing: ComputePricing? = nil, gatewayURL: String,
        logger: Logger
    ) {
        self.traffic = traffic
        self.pricing = pricing
        self.jobs = jobs
        self.asyncQueues = asyncQueues
        self.inFlight = inFlight
        self.scaling = scaling
        self.store = store
        self.extractor = extractor
        self.backend = backend
        self.routes = routes
        self.gatewayURL = gatewayURL
        self.logger = logger
    }

    /// Deploy requests running now (the garbage collector waits for none).
    private var deploysInProgress = 0
    /// Whether ``restore()`` has applied every stored API (the garbage collector waits for it).
    private var restored = false
    /// A collection is running; `collectAgain` asks it for one more round.
    private var collecting = false
    private var collectAgain = false
    /// Waits for replicas of older revisions to stop, then collects again (``collectGarbage()``).
    private var followUp: Task<Void, Never>?

    /// Brings every stored API back (after a restart of `tern serve`), each with the replica
    /// count the autoscaler last stored for it (``ReplicaCountRecorder``) clamped to its
    /// `[min_replicas, max_replicas]`, else `init_replicas`; then collects garbage
    /// (``collectGarbage()``).
    public func restore() async throws {
        // Keys first, in one read: a router made by setRoute starts with them (no 401 window). The
        // gateway keeps them across later setRoute and removeRoute calls; createKey and revokeKey
        // push each change.
        do {
            for (api, keys) in Dictionary(grouping: try store.apiKeys(), by: \.document.api) {
                await routes.setAPIKeys(api: api, keys: Self.gatewayKeys(of: keys))
            }
        } catch {
            logger.error("cannot read the API keys; APIs with auth: api_key refuse every request until a key changes",
                         metadata: ["error": "\(error)"])
        }
        let counts = (try? store.desiredReplicas()) ?? [:]
        for stored in try store.deployedRevisions() {
            let autoscaling = stored.spec.autoscaling
            let count = counts[stored.api].map { min(max($0, autoscaling.minReplicas), autoscaling.maxReplicas) }
            await run(stored, initialReplicas: count)
            logger.info(
                "restored API",
                metadata: ["api": "\(stored.api)", "revision": "\(stored.revision)", "replicas": "\(count.map(String.init) ?? "init_replicas")"])
        }
        restored = true
        await collectGarbage()
    }

    /// Deletes the bundle folders under `TERN_HOME/bundles` that neither a deployed revision nor a
    /// running replica or worker uses, and the staging folders that crashed extractions left;
    /// then has the backend collect its own (``ReplicaBackend/collectGarbage()``: the local
    /// backend's unused `requirements.txt` environments). Older revisions keep no files: there is
    /// no rollback, and a redeploy uploads its files again (docs/reliability.md, State durability).
    ///
    /// Runs only once ``restore()`` has applied every stored API and while no deploy is in
    /// progress (the last deploy to end runs it); called after each deploy and delete. When
    /// replicas of an older revision still run (a rolling update drains them), their bundle stays
    /// and a follow-up checks every second, for up to 10 minutes, until they are gone, then
    /// collects again. Folders
    /// are renamed out of the way on the actor (an extraction never reuses one being deleted) and
    /// deleted on NIO's thread pool.
    public func collectGarbage() async {
        guard !collecting else {
            collectAgain = true
            return
        }
        collecting = true
        defer { collecting = false }
        repeat {
            collectAgain = false
            guard restored, deploysInProgress == 0 else { return }
            let inUse = await backend.projectDirectoriesInUse()
            guard deploysInProgress == 0, let deployed = try? store.deployedRevisions() else { return }
            var keep = Set(deployed.map(\.bundleDigest))
            keep.formUnion(inUse.compactMap(extractor.digest(containing:)))
            let draining = keep.subtracting(deployed.map(\.bundleDigest))
            if !draining.isEmpty, followUp == nil {
                followUp = Task { await self.collectWhenStopped(draining) }
            }
            let retired = extractor.retireBundles(keeping: keep)
            if !retired.isEmpty {
                logger.info("removing unused bundles", metadata: ["bundles": "\(retired.joined(separator: ", "))"])
            }
            let extractor = self.extractor
            _ = try? await NIOThreadPool.singleton.runIfActive { extractor.emptyTrash() }
            await backend.collectGarbage()
        } while collectAgain
    }

    /// The follow-up of ``collectGarbage()``: waits until no replica runs from the bundles in
    /// `draining` (checked every second, for up to 10 minutes), then collects.
    private func collectWhenStopped(_ draining: Set<String>) async {
        for _ in 0..<600 {
            try? await Task.sleep(for: .seconds(1))
            let inUse = Set(await backend.projectDirectoriesInUse().compactMap(extractor.digest(containing:)))
            if inUse.isDisjoint(with: draining) { break }
        }
        followUp = nil
        await collectGarbage()
    }

    /// Deploys the project in `bundle` (a zip) whose config file is `configPath` inside it.
    ///
    /// Every API of the file is validated before anything changes; an API whose spec and files
    /// did not change is left alone (`unchanged`).
    /// - Throws: ``ControlPlaneError`` (422 invalid bundle or config, 409 endpoint taken, kind change
    ///   without `force`, or update in progress).
    public func deploy(bundle: Data, configPath: String, force: Bool = false) async throws -> DeployResult {
        deploysInProgress += 1
        let result: Result<DeployResult, any Error>
        do {
            result = .success(
                try await DeployCrashHook.$inDeploy.withValue(true) {
                    try await deployProject(bundle: bundle, configPath: configPath, force: force)
                })
        } catch {
            result = .failure(error)
        }
        deploysInProgress -= 1
        // In the background: the answer does not wait for files to be deleted.
        Task { await self.collectGarbage() }
        return try result.get()
    }

    /// ``deploy(bundle:configPath:force:)`` itself; the crash hook's steps (``DeployStep``) are
    /// marked where they are reached.
    private func deployProject(bundle: Data, configPath: String, force: Bool) async throws -> DeployResult {
        DeployCrashHook.reach(.received)
        do {
            try BundleExtractor.checkPath(configPath)
        } catch {
            throw ControlPlaneError(status: .badRequest, kind: .invalidConfigPath, message: "\(error)")
        }
        let extracted: (digest: String, directory: String)
        do {
            // Off the event loops: a large bundle takes seconds to unpack, and the loops also
            // serve the gateway's clients.
            let extractor = self.extractor
            let armed = DeployCrashHook.inDeploy
            extracted = try await NIOThreadPool.singleton.runIfActive {
                try extractor.extract(bundle, afterFirstFile: { DeployCrashHook.reach(.extracting, armed: armed) })
            }
        } catch let error as BundleError {
            throw ControlPlaneError(status: .unprocessableContent, kind: .invalidBundle, message: error.description)
        }
        DeployCrashHook.reach(.extracted)
        let configURL = URL(fileURLWithPath: extracted.directory).appendingPathComponent(configPath)
        let config: ProjectConfig
        do {
            config = try ConfigLoader.load(fileAt: configURL)
        } catch {
            throw ControlPlaneError(status: .unprocessableContent, kind: .invalidConfig, message: error.description)
        }
        let fileName = (configPath as NSString).lastPathComponent
        let configDirectory = (configPath as NSString).deletingLastPathComponent
        try await checkDeployable(config, fileName: fileName, force: force)

        let projectDirectory = configDirectory.isEmpty ? extracted.directory : extracted.directory + "/" + configDirectory
        // --- model paths exist and version folders are well formed (ModelPathCheck.swift) ---
        try ModelPathCheck.check(
            config, projectDirectory: projectDirectory,
            configText: try? String(contentsOf: configURL, encoding: .utf8), fileName: fileName)
        // --- end model paths ---
        let dotEnv = (try? String(contentsOfFile: projectDirectory + "/.env", encoding: .utf8)).map(DotEnv.parse) ?? [:]
        // Decide for every API first, so a refusal changes nothing.
        var changes: [(spec: APISpec, existing: StoredRevision?)] = []
        var outcomes: [DeployResult.Outcome] = []
        for spec in config.apis {
            let existing = try store.deployedRevision(api: spec.name)
            if let existing, existing.spec == spec,
                spec.kind == .trafficSplitter  // a TrafficSplitter runs no project files
                    || (existing.bundleDigest == extracted.digest && existing.configDirectory == configDirectory)
            {
                continue
            }
            if existing != nil, !force, let status = await backend.status(api: spec.name), status.status == .updating,
                Set(status.replicas.map(\.revision)).count > 1
            {
                throw ControlPlaneError(
                    status: .conflict, kind: .updateInProgress,
                    message: "API \(spec.name) is still being updated; wait until `tern get \(spec.name)` shows it live, or deploy with --force",
                    api: spec.name)
            }
            changes.append((spec, existing))
        }
        DeployCrashHook.reach(.validated)
        // Every changed API of the file in one transaction: a crash leaves all of them or none.
        let added = try store.addRevisions(
            specs: changes.map(\.spec), bundleDigest: extracted.digest, configDirectory: configDirectory)
        DeployCrashHook.reach(.stored)
        for spec in config.apis {
            if let index = changes.firstIndex(where: { $0.spec.name == spec.name }) {
                let stored = added[index]
                await run(stored, environment: dotEnv)
                DeployCrashHook.reach(.applied)
                outcomes.append(
                    .init(name: spec.name, action: changes[index].existing == nil ? .created : .updated, revision: stored.revision))
            } else if let existing = try store.deployedRevision(api: spec.name) {
                outcomes.append(.init(name: spec.name, action: .unchanged, revision: existing.revision))
            }
        }
        return DeployResult(apis: outcomes, warnings: config.warnings.map(\.description))
    }

    /// Every API, ordered by name.
    public func list() async throws -> [APIDocument] {
        var documents: [APIDocument] = []
        for stored in try store.deployedRevisions() {
            documents.append(await document(for: stored))
        }
        return documents
    }

    /// One API.
    /// - Throws: ``ControlPlaneError`` 404 when it is not deployed.
    public func get(_ name: String) async throws -> APIDocument {
        guard let stored = try store.deployedRevision(api: name) else { throw ControlPlaneError.notFound(name) }
        return await document(for: stored)
    }

    /// Deletes an API: its route goes first (new requests get 404), then its replicas stop. Its
    /// API keys are deleted with it (in the store's transaction), so a later deploy of the same
    /// name needs new keys.
    /// - Throws: ``ControlPlaneError`` 404 when it is not deployed.
    public func delete(_ name: String) async throws {
        guard try store.deployedRevision(api: name) != nil else { throw ControlPlaneError.notFound(name) }
        if let refusal = TrafficSplitRules.deleteRefusal(of: name, deployed: try store.deployedRevisions().map(\.spec)) {
            throw refusal
        }
        try store.deleteAPI(name)
        await jobs?.apiDeleted(name)
        await asyncQueues?.remove(api: name)
        await scaling?.untrack(api: name)
        await routes.removeRoute(api: name)
        await routes.setAPIKeys(api: name, keys: [])  // the gateway forgets them too
        await backend.remove(api: name)
        await traffic?.forget(api: name)
        Task { await self.collectGarbage() }
    }

    /// Restarts every replica of an API as a rolling update.
    /// - Throws: ``ControlPlaneError`` 404 when it is not deployed.
    public func refresh(_ name: String) async throws {
        guard let stored = try store.deployedRevision(api: name) else { throw ControlPlaneError.notFound(name) }
        if let refusal = TrafficSplitRules.noReplicas(stored.spec, action: "refresh") { throw refusal }
        await backend.refresh(api: name)
    }

    /// An API's log from the backend (``ReplicaBackend/logs(api:replica:follow:tail:)``); a
    /// follow ends when the API is deleted.
    /// - Throws: ``ControlPlaneError`` 404 when the API is not deployed, 422 `no_replicas` for a
    ///   TrafficSplitter.
    public func logs(
        _ name: String, replica: String? = nil, follow: Bool, tail: Int?
    ) async throws -> AsyncThrowingStream<LogLine, any Error> {
        guard let stored = try store.deployedRevision(api: name) else { throw ControlPlaneError.notFound(name) }
        if let refusal = TrafficSplitRules.noReplicas(stored.spec, action: "logs") { throw refusal }
        return await backend.logs(api: name, replica: replica, follow: follow, tail: tail)
    }

    // MARK: API keys

    /// Creates a key for `api` (deployed, any `networking.auth`: a key made before the API turns
    /// auth on is valid once it does), limited to `rateLimit` when given; the gateway accepts it
    /// at once. The key is in the result only; the store keeps its SHA-256.
    /// - Throws: ``ControlPlaneError`` 404 when `api` is not deployed, 400 `bad_request` when
    ///   `rateLimit` is out of bounds (``RateLimit/validate()``).
    public func createKey(api: String, rateLimit: RateLimit? = nil) async throws -> CreatedAPIKey {
        guard try store.deployedRevision(api: api) != nil else { throw ControlPlaneError.notFound(api) }
        do {
            try rateLimit?.validate()
        } catch let invalid as RateLimit.Invalid {
            throw ControlPlaneError(status: .badRequest, kind: .badRequest, message: invalid.message)
        }
        let key = APIKeys.generate()
        let document = APIKeyDocument(
            id: APIKeys.generateID(), api: api, created: Date(), prefix: String(key.prefix(APIKeys.prefixLength)),
            rateLimit: rateLimit)
        try store.addAPIKey(StoredAPIKey(document: document, hash: APIKeys.hash(key)))
        try await pushKeys(api: api)
        logger.info(
            "API key created", metadata: ["api": "\(api)", "id": "\(document.id)", "rate_limit": "\(rateLimit.map(String.init(describing:)) ?? "none")"])
        return CreatedAPIKey(document: document, key: key)
    }

    /// The keys of `api` (all when nil), without the keys themselves.
    public func keys(api: String?) throws -> [APIKeyDocument] {
        try store.apiKeys(api: api).map(\.document)
    }

    /// Revokes key `id`: the gateway refuses it from the next request on.
    /// - Throws: ``ControlPlaneError`` 404 when there is no such key.
    public func revokeKey(id: String) async throws -> APIKeyDocument {
        guard let removed = try store.deleteAPIKey(id: id) else {
            throw ControlPlaneError(
                status: .notFound, kind: .notFound, message: "no API key with id \(id); run `tern keys list` to see the ids")
        }
        try await pushKeys(api: removed.document.api)
        logger.info("API key revoked", metadata: ["api": "\(removed.document.api)", "id": "\(id)"])
        return removed.document
    }

    /// Gives the gateway `api`'s keys (after a change; ``restore()`` gives all).
    private func pushKeys(api: String) async throws {
        await routes.setAPIKeys(api: api, keys: Self.gatewayKeys(of: try store.apiKeys(api: api)))
    }

    /// What the gateway checks — the 32-byte digests (from the stored hex hashes) and rate
    /// limits — of stored keys.
    private static func gatewayKeys(of keys: [StoredAPIKey]) -> [GatewayKey] {
        keys.compactMap { key in
            APIKeys.digest(fromHex: key.hash).map { GatewayKey(digest: $0, rateLimit: key.document.rateLimit) }
        }
    }

    /// The rules that need what is deployed: an endpoint no other API uses (409 `endpoint_taken`), the
    /// TrafficSplitter rules (``TrafficSplitRules``), and no change of kind of a deployed API
    /// unless `force` (409 `kind_change`). Messages name the file, line, API and key path.
    private func checkDeployable(_ config: ProjectConfig, fileName: String, force: Bool) async throws {
        let deployed = try store.deployedRevisions()
        func located(_ spec: APISpec, _ keyPath: String, _ message: String) -> String {
            ConfigIssue(
                file: fileName, line: config.line(api: spec.name, keyPath: keyPath), api: spec.name,
                keyPath: keyPath, message: message
            ).description
        }
        for spec in config.apis {
            if let other = deployed.first(where: {
                $0.api != spec.name && $0.spec.networking.endpoint == spec.networking.endpoint
            }) {
                throw ControlPlaneError(
                    status: .conflict, kind: .endpointTaken,
                    message: located(
                        spec, "networking.endpoint",
                        "\(spec.networking.endpoint) is already used by API \(other.api); choose another endpoint"),
                    api: spec.name)
            }
        }
        if let refusal = TrafficSplitRules.check(
            file: config.apis, deployed: deployed.map(\.spec), fileName: fileName, lines: config.lines)
        {
            throw refusal
        }
        guard !force else { return }
        for spec in config.apis {
            if let existing = deployed.first(where: { $0.api == spec.name }), existing.spec.kind != spec.kind {
                throw ControlPlaneError(
                    status: .conflict, kind: .kindChange,
                    message: located(
                        spec, "kind",
                        "API \(spec.name) is deployed as a \(existing.spec.kind.rawValue); this file makes it a "
                            + "\(spec.kind.rawValue). Delete it first (tern delete \(spec.name)) or deploy with --force"),
                    api: spec.name)
            }
        }
    }

    private func run(_ stored: StoredRevision, environment: [String: String]? = nil, initialReplicas: Int? = nil) async {
        if stored.spec.kind == .trafficSplitter {
            // No replicas: only a weighted route. If the name was a RealtimeAPI, its replicas go.
            await routes.setSplit(
                api: stored.api, endpoint: stored.spec.networking.endpoint, targets: stored.spec.trafficSplit ?? [])
            await scaling?.untrack(api: stored.api)
            await backend.remove(api: stored.api)
            return
        }
        let projectDirectory =
            extractor.bundlesDirectory + "/" + stored.bundleDigest
            + (stored.configDirectory.isEmpty ? "" : "/" + stored.configDirectory)
        var env = environment
            ?? (try? String(contentsOfFile: projectDirectory + "/.env", encoding: .utf8)).map(DotEnv.parse) ?? [:]
        for (key, value) in stored.spec.predictor?.env ?? [:] { env[key] = value }
        if stored.spec.kind.queuesWork {
            // The endpoint takes jobs (Cortex's submit/status/stop) or an AsyncAPI's requests;
            // no replicas: workers start with each job (JobService) or scale with the queue
            // (AsyncQueueService, with an autoscaler of its own).
            await routes.removeRoute(api: stored.api)
            await routes.setQueueRoute(api: stored.api, endpoint: stored.spec.networking.endpoint)
            await scaling?.untrack(api: stored.api)
        } else {
            await routes.setRoute(stored.spec)
            await scaling?.track(stored.spec)
        }
        await backend.apply(
            Deployment(
                spec: stored.spec, revision: stored.revision, projectDirectory: projectDirectory, environment: env,
                initialReplicas: initialReplicas))
        if stored.spec.kind == .asyncAPI { await asyncQueues?.apply(stored) }  // after the backend knows the API
    }

    private func document(for stored: StoredRevision) async -> APIDocument {
        if stored.spec.kind == .trafficSplitter { return await splitterDocument(for: stored) }
        let status = await backend.status(api: stored.api)
        var derived = status?.status ?? .updating
        // A BatchAPI or TaskAPI runs no replicas between jobs: it is ready for jobs, not scaled down.
        if stored.spec.kind.runsJobs, derived == .scaledToZero { derived = .live }
        var requested = status?.requestedReplicas ?? 0
        var ready = status?.readyReplicas ?? 0
        var inFlight = await inFlight.inFlight(api: stored.api)
        var message = status?.message
        if stored.spec.kind == .asyncAPI, let queues = asyncQueues {
            // An AsyncAPI's replicas are its queue workers; its in-flight is queued plus in progress.
            requested = await queues.requestedReplicas(api: stored.api) ?? 0
            let health = await queues.workerHealth(api: stored.api)
            ready = health.ready
            inFlight = await queues.inFlight(api: stored.api)
            if derived == .scaledToZero, requested > 0 {
                derived = ready > 0 ? .live : health.status ?? .updating
                message = health.message ?? message
            }
        }
        var replicas = status?.replicas ?? []
        let busy = await self.inFlight.replicaInFlight(api: stored.api)
        for index in replicas.indices { replicas[index].inFlight = busy[replicas[index].id] }
        let stats = await traffic?.stats(api: stored.api)
        return APIDocument(
            name: stored.api, kind: stored.spec.kind.rawValue, status: derived,
            message: message, phase: status?.phase, endpoint: gatewayURL + stored.spec.networking.endpoint,
            revision: stored.revision, requestedReplicas: requested,
            readyReplicas: ready, inFlight: inFlight,
            averageInFlight: await scaling?.averageInFlight(api: stored.api),
            replicas: replicas, updatedAt: stored.createdAt,
            upToDateReplicas: stored.spec.kind == .realtimeAPI
                ? replicas.filter { $0.revision == stored.revision && $0.state == .ready }.count : nil,
            traffic: stats?.traffic,
            predictions: stored.spec.monitoring == nil ? nil : stats?.predictions,
            cost: cost(of: stored.spec, replicas: replicas, traffic: stats?.traffic))
    }

    /// The cost of `spec`'s running replicas (starting, ready or draining) at the server's prices,
    /// and of 1,000 of the successful predictions of `traffic`'s window; nil without prices.
    private func cost(of spec: APISpec, replicas: [ReplicaDocument], traffic: TrafficSummary?) -> CostSummary? {
        guard let pricing else { return nil }
        let running = replicas.filter { [.starting, .ready, .draining].contains($0.state) }.count
        return pricing.cost(
            compute: spec.compute, replicas: running, predictions: traffic?.responses.success ?? 0,
            window: .seconds(traffic?.windowSeconds ?? 60))
    }

    /// A TrafficSplitter's document: its status derives from its targets' (see ``TrafficSplitRules``).
    private func splitterDocument(for stored: StoredRevision) async -> APIDocument {
        let targets = stored.spec.trafficSplit ?? []
        var statuses: [String: BackendAPIStatus] = [:]
        for target in targets {
            statuses[target.name] = await backend.status(api: target.name)
        }
        let derived = TrafficSplitRules.status(of: targets, statuses: statuses)
        return APIDocument(
            name: stored.api, kind: stored.spec.kind.rawValue, status: derived.status, message: derived.message,
            endpoint: gatewayURL + stored.spec.networking.endpoint, revision: stored.revision, requestedReplicas: 0,
            readyReplicas: 0, inFlight: 0, replicas: [], updatedAt: stored.createdAt, trafficSplit: targets)
    }
}
