import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import ServiceLifecycle
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TernCore
import Tracing

/// Settings of the gateway (data plane).
public struct GatewayConfiguration: Sendable {
    /// Address to bind; default `127.0.0.1`.
    public var host: String
    /// Port to bind; `0` picks a free one. Default 8888.
    public var port: Int
    /// Largest request body accepted, in bytes; larger ones get 413. Default 32 MiB.
    public var maxBodyBytes: Int
    /// For APIs with `min_replicas: 0`: how long a request waits for a replica to start before it
    /// gets 503 `cold_start_timeout`. Default 300 s.
    public var coldStartTimeout: Duration
    /// When an API is deleted: how long its running requests may take to finish. Default 10 s.
    public var drainGracePeriod: Duration
    /// How long the gateway waits for the next bytes of a client that is sending a request (head
    /// or body) or is idle between requests; then it closes the connection. A client waiting for
    /// its answer is never cut by it. Default 60 s (nginx's `client_body_timeout`).
    public var idleTimeout: Duration
    /// Request-head size, field count and deadline, and the connection limit (``ConnectionLimits``).
    public var limits: ConnectionLimits
    /// Told of every answered exchange with a replica (metrics, tracing, `tern get`'s rolling
    /// figures), each in turn, in this order; see ``ExchangeObserver``. Default none.
    public var observers: [any ExchangeObserver]
    /// Makes OpenTelemetry spans of every request (``RequestTrace``, docs/tracing.md): `tern
    /// serve --otlp-endpoint` gives an OTLP exporter's tracer. nil (the default): no spans, and a
    /// request pays one nil check.
    public var tracer: (any Tracer)?
    /// Serve HTTPS with this certificate and key (`tern serve --tls-certificate/--tls-key`);
    /// nil: plain HTTP. Default nil.
    public var tls: TLSConfiguration?

    /// Creates a configuration; every default is stated on its property.
    public init(
        host: String = "127.0.0.1", port: Int = 8888, maxBodyBytes: Int = 32 << 20,
        coldStartTimeout: Duration = .seconds(300), drainGracePeriod: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60), limits: ConnectionLimits = .init(),
        observers: [any ExchangeObserver] = [], tracer: (any Tracer)? = nil, tls: TLSConfiguration? = nil
    ) {
        self.observers = observers
        self.tracer = tracer
        self.tls = tls
        self.limits = limits
        self.drainGracePeriod = drainGracePeriod
        self.idleTimeout = idleTimeout
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.coldStartTimeout = coldStartTimeout
    }
}

/// The data plane: accepts client HTTP traffic, admits it, and forwards each request as one
/// frame over a pooled Unix-socket connection to the least-loaded ready replica.
///
/// It implements ``RouteTable`` (which endpoint belongs to which API) and ``ReplicaRegistry``
/// (which replicas serve it) for the control plane and the backend, and ``InFlightSource`` for
/// the autoscaler.
public final class Gateway: RouteTable, ReplicaRegistry, InFlightSource, Sendable {
    /// Settings.
    public let configuration: GatewayConfiguration
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
    /// API name → router, and endpoint path → API name.
    private let table = Mutex<(routers: [String: APIRouter], endpoints: [String: String])>(([:], [:]))
    /// Health-probe connections, one per worker, by replica id (worker address, connection).
    private let probes = Mutex<[String: [(address: ReplicaAddress, connection: ReplicaConnection?)]]>([:])
    /// TrafficSplitter routes (see `TrafficSplit.swift`).
    let splits = SplitTable()
    /// How many slot connections were opened: the next one goes on loop `count % loops`.
    private let connectionsOpened = Atomic<Int>(0)
    /// Endpoints of queueing APIs (BatchAPI, TaskAPI): endpoint path → API name, and who serves them.
    private let queues = Mutex<(endpoints: [String: String], handler: (any QueueEndpoint)?)>(([:], nil))
    /// The keys of each API (``setAPIKeys(api:keys:)``), kept so a router created later (a
    /// redeploy after a delete) gets them too.
    private let apiKeys = Mutex<[String: [GatewayKey]]>([:])
    /// Where to ask for a replica when a request arrives for an API without one.
    private let scaling = Mutex<(any ScalingRegistry)?>(nil)

    /// Connects the gateway to the autoscaler, which it wakes for scale-from-zero.
    public func setScalingRegistry(_ registry: any ScalingRegistry) {
        scaling.withLock { $0 = registry }
    }

    /// Connects the gateway to the job service, which answers requests to queueing APIs'
    /// endpoints (submit, status, stop); until then those get 503.
    public func setQueueEndpoint(_ handler: any QueueEndpoint) {
        queues.withLock { $0.handler = handler }
    }

    /// The queueing API at endpoint `path` and who serves it (nil handler: not connected yet).
    func queueRoute(forPath path: String) -> (api: String, handler: (any QueueEndpoint)?)? {
        queues.withLock { queues in queues.endpoints[path].map { ($0, queues.handler) } }
    }

    /// The queueing API whose endpoint is `path` without its last segment (`/ocr/<id>` → the
    /// API at `/ocr`), with that segment.
    func queueRoute(forSubpath path: String) -> (api: String, endpoint: String, subpath: String, handler: (any QueueEndpoint)?)? {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return nil }
        let endpoint = String(path[..<slash])
        return queueRoute(forPath: endpoint).map { ($0.api, endpoint, String(path[path.index(after: slash)...]), $0.handler) }
    }

    /// Creates a gateway; call ``makeService(onRunning:)`` to serve HTTP.
    public init(
        configuration: GatewayConfiguration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// The HTTP server as a service for a `ServiceGroup`. `onRunning` receives the bound port.
    ///
    /// On graceful shutdown the server stops accepting connections and lets running requests
    /// finish for ``GatewayConfiguration/drainGracePeriod``; requests still running then are cut
    /// with 503 `replica_stopped` (C14), so shutdown is bounded.
    ///
    /// With ``GatewayConfiguration/tls`` the listener speaks HTTPS only (TLS below the same
    /// HTTP/1 pipeline, fast path included).
    /// - Throws: NIOSSL's error when the TLS configuration cannot make a context (a key that
    ///   does not match its certificate, say).
    public func makeService(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some Service {
        let dates = HTTPDateCache()
        let idleTimeout = TimeAmount(configuration.idleTimeout)
        let limits = configuration.limits
        let connections = limits.maxConnections.map { ConnectionCounter(limit: $0) }
        // The decoder enforces the head's size and field count (NIO's HTTPParserError.headerOverflow).
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
            maxHeaderFieldCount: limits.maxHeaderCount)
        // A new set of handlers for each connection (the list is an autoclosure).
        let handlers: @Sendable () -> [any RemovableChannelHandler] = {
            let clock = ClientIdleTimeout(timeout: idleTimeout, headerTimeout: limits.headerTimeout)
            return [
                GatewayPipeline(idleTimeout: clock), PredictFastPath(gateway: self, dates: dates, requestClock: clock),
                ProtocolErrorResponder(limits: limits, dates: dates, connections: connections),
            ]
        }
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(additionalChannelHandlers: handlers(), httpDecoderConfiguration: decoder))
        return GatewayService(
            gateway: self,
            application: Application(
                responder: GatewayResponder(gateway: self),
                server: try configuration.tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
                configuration: .init(
                    address: .hostname(configuration.host, port: configuration.port), serverName: nil,
                    backlog: Self.listenBacklog),
                onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                logger: logger))
    }

    /// Pending connections the gateway's listening socket queues (`listen` backlog; the kernel
    /// caps it at `net.core.somaxconn`, 4096 on current Linux). Hummingbird's default of 256 made
    /// a burst of new clients overflow the accept queue: opening 10,000 connections took 6–20 s,
    /// the overflowing ones retrying after 1 s (bench/scale.sh).
    static let listenBacklog = 4096

    /// True once the drain grace period of a shutdown has passed.
    var isCuttingRequests: Bool { cutting.load(ordering: .relaxed) }
    private let cutting = Atomic<Bool>(false)

    /// Ends every running request (their connections close; the client gets 503 `replica_stopped`).
    func cutRunningRequests() async {
        cutting.store(true, ordering: .relaxed)
        let routers = table.withLock { Array($0.routers.values) }
        for router in routers { await router.close(grace: .zero) }
    }

    /// The router serving `path` (an endpoint such as `/iris`), if any.
    func router(forPath path: String) -> APIRouter? {
        table.withLock { table in table.endpoints[path].flatMap { table.routers[$0] } }
    }

    func router(forAPI api: String) -> APIRouter? {
        table.withLock { $0.routers[api] }
    }

    // Open Inference Protocol (helper B): `/v2/health/ready` checks every API.
    /// Every API's router, in no particular order.
    var allRouters: [APIRouter] { table.withLock { Array($0.routers.values) } }

    // MARK: RouteTable

    public func setQueueRoute(api: String, endpoint: String) async {
        queues.withLock { queues in
            queues.endpoints = queues.endpoints.filter { $0.value != api }
            queues.endpoints[endpoint] = api
        }
    }

    public func setRoute(_ spec: APISpec) async {
        splits.remove(api: spec.name)  // a TrafficSplitter that became a RealtimeAPI
        removeQueueRoute(api: spec.name)
        let existing: APIRouter? = table.withLock { table in
            table.endpoints = table.endpoints.filter { $0.value != spec.name }
            table.endpoints[spec.networking.endpoint] = spec.name
            if let router = table.routers[spec.name] { return router }
            let router = APIRouter(
                spec: spec, coldStartTimeout: configuration.coldStartTimeout, eventLoopGroup: eventLoopGroup,
                observers: configuration.observers, wake: { [weak self] api in await self?.scaling.withLock { $0 }?.awaken(api: api) })
            router.keys.setKeys(apiKeys.withLock { $0[spec.name] } ?? [])
            table.routers[spec.name] = router
            return nil
        }
        existing?.configure(spec)
    }

    public func setAPIKeys(api: String, keys: [GatewayKey]) async {
        // Under the table's lock, so a router created at the same time cannot miss them.
        table.withLock { table in
            apiKeys.withLock { $0[api] = keys.isEmpty ? nil : keys }
            table.routers[api]?.keys.setKeys(keys)
        }
    }

    func removeQueueRoute(api: String) {
        queues.withLock { $0.endpoints = $0.endpoints.filter { $0.value != api } }
    }

    public func removeRoute(api: String) async {
        splits.remove(api: api)  // TrafficSplitter routes
        removeQueueRoute(api: api)
        let router: APIRouter? = table.withLock { table in
            table.endpoints = table.endpoints.filter { $0.value != api }
            return table.routers.removeValue(forKey: api)
        }
        await router?.close(grace: configuration.drainGracePeriod)
    }

    // MARK: InFlightSource

    public func inFlight(api: String) async -> Int {
        router(forAPI: api)?.inFlight ?? 0
    }

    public func replicaInFlight(api: String) async -> [String: Int] {
        router(forAPI: api)?.busyByReplica ?? [:]
    }

    // MARK: ReplicaRegistry


    public func attach(_ replica: ReplicaEndpoint) async throws {
        guard let router = router(forAPI: replica.api) else {
            throw GatewayRejection(status: 404, kind: .notFound, message: "no route for API \(replica.api)")
        }
        var connections: [ReplicaConnection] = []
        // Slot connections go round the event loops in turn, across replicas (not `group.next()`,
        // which the server's accepts also advance), so each loop serves its share of the workers
        // and ``ReplicaSlots/take(near:)`` finds one on the caller's loop where it can.
        let loops = Array(eventLoopGroup.makeIterator())
        do {
            for address in replica.addresses {
                for _ in 0..<replica.slotsPerWorker {
                    let turn = connectionsOpened.wrappingAdd(1, ordering: .relaxed).oldValue
                    let loop = loops.isEmpty ? eventLoopGroup : loops[(turn & Int.max) % loops.count]
                    connections.append(try await ReplicaConnection.connect(to: address, group: loop))
                }
            }
            var probeConnections: [(address: ReplicaAddress, connection: ReplicaConnection?)] = []
            for address in replica.addresses {
                let probe = try await ReplicaConnection.connect(to: address, group: eventLoopGroup)
                connections.append(probe)  // closed with the others on failure
                guard await probe.checkHealth() else {
                    throw ReplicaConnectionError.handshake("health frame not answered with 200")
                }
                probeConnections.append((address, probe))
            }
            connections.removeLast(probeConnections.count)
            probes.withLock { $0[replica.replicaID] = probeConnections }
        } catch {
            for connection in connections { await connection.close() }
            throw error
        }
        router.attach(replicaID: replica.replicaID, connections: connections)
        logger.debug("replica attached", metadata: ["api": "\(replica.api)", "replica": "\(replica.replicaID)"])
    }

    public func detach(api: String, replicaID: String, grace: Duration) async {
        let probeConnections = probes.withLock { $0.removeValue(forKey: replicaID) } ?? []
        for probe in probeConnections { await probe.connection?.close() }
        await router(forAPI: api)?.detach(replicaID: replicaID, grace: grace)
    }

    public func startFailed(api: String, message: String) async {
        router(forAPI: api)?.failHeldRequests(because: message)
    }

    public func probe(api: String, replicaID: String, timeout: Duration) async -> Bool {
        guard let targets = probes.withLock({ $0[replicaID] }) else { return false }
        let group = eventLoopGroup
        var healthy = true
        var renewed: [(address: ReplicaAddress, connection: ReplicaConnection?)] = []
        for target in targets {
            let check = Task { () throws -> ReplicaConnection in
                let connection: ReplicaConnection
                if let existing = target.connection, existing.isActive {
                    connection = existing
                } else {
                    connection = try await ReplicaConnection.connect(to: target.address, group: group)
                }
                guard await connection.checkHealth() else { throw ReplicaConnectionError.closed }
                return connection
            }
            do {
                renewed.append((target.address, try await value(of: check, timeout: timeout)))
            } catch {
                // A late answer would break the one-request-per-connection rule: drop the connection.
                healthy = false
                renewed.append((target.address, nil))
                Task {
                    if let late = try? await check.value { await late.close() }
                    await target.connection?.close()
                }
            }
        }
        probes.withLock { table in
            if table[replicaID] != nil { table[replicaID] = renewed }
        }
        return healthy
    }
}

/// The gateway's HTTP server plus the bound on its drain at shutdown.
struct GatewayService<Server: Service>: Service {
    let gateway: Gateway
    let application: Server

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            group.addTask {
                try await gracefulShutdown()
                try await Task.sleep(for: gateway.configuration.drainGracePeriod)
                gateway.logger.warning("drain grace period over; cutting the requests still running")
                await gateway.cutRunningRequests()
                // The cut requests now answer 503 and their connections close, which ends the
                // server's own drain; this bounds the wait instead of racing those writes.
                try await Task.sleep(for: .seconds(1))
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
