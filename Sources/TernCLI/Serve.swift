import ArgumentParser
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import TernControlPlane
import TernCore
import TernGateway
import TernMetrics
import TernScaling
import TernSupervisor
import TernTracing

#if canImport(Glibc)
import Glibc
#endif

/// Options of the server, shared by `tern serve` and `tern up`.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address both servers bind to.")
    var host = "127.0.0.1"

    @Option(help: "Gateway (client traffic) port.")
    var port = 8888

    @Option(help: "Control-plane API port.")
    var controlPort = 8889

    @Option(help: "Python interpreter for replicas (default: $TERN_PYTHON or python3).")
    var python: String?

    @Option(help: "Largest request body the gateway accepts, in bytes.")
    var maxBodyBytes = 32 << 20

    @Option(help: "Largest project bundle a deploy may upload, in bytes.")
    var maxBundleBytes = 256 << 20

    @Option(
        help: "Largest size of one API's log file in bytes; past it the file is rotated to <api>.log.1, so an API's logs take at most about twice this (0: no cap).")
    var maxLogBytes: Int64 = LocalBackendConfiguration.defaultMaxLogBytes

    @Option(help: "Seconds a stopping replica may take to finish in-flight requests.")
    var stopGraceSeconds = 10

    @Option(help: "Seconds between autoscaling decisions (Cortex's tick).")
    var autoscalerTickSeconds = 10.0

    @Option(help: "Hours a finished BatchAPI or TaskAPI job (spec, progress, errors, dead letters) is kept before it is deleted.")
    var jobRetentionHours = 168.0

    @Option(help: "Seconds a job worker holds a batch without a heartbeat before the batch is delivered to another worker (the visibility timeout).")
    var jobLeaseSeconds = 30.0

    @Option(help: "Seconds a request may wait for an API with min_replicas: 0 to start a replica.")
    var coldStartTimeoutSeconds = 300.0

    @Option(
        help: "Seconds the gateway waits for the next bytes of a client that is sending a request or idle between requests before it closes the connection (a client waiting for its answer is never cut).")
    var idleTimeoutSeconds = 60.0

    @Option(
        help: "Seconds a client may take to send a request head (from its first byte), however steadily it trickles in; then 408 and the connection is closed.")
    var headerTimeoutSeconds = 30.0

    @Option(
        help: ArgumentHelp(
            "Most client connections the gateway holds open at once; a new one beyond it is answered 503 too_many_connections and closed (default: three quarters of the file-descriptor limit).",
            valueName: "count"))
    var maxConnections: Int?

    @Option(help: "Seconds a replica's predictor may take to load (__init__) before the replica is killed as `init timed out`.")
    var startupTimeoutSeconds = 300.0

    @Option(
        help: "Seconds between health checks of a ready replica; 3 unanswered in a row (each within this or 5 s, whichever is less) restart it.")
    var healthIntervalSeconds = 5.0

    @Option(
        help: ArgumentHelp(
            "CPU that replicas' compute.cpu requests share, e.g. 2 or 1500m (default: this machine's cores).",
            valueName: "quantity"))
    var cpus: String?

    @Option(
        help: ArgumentHelp(
            "Memory that replicas' compute.mem requests share, e.g. 8Gi (default: this machine's memory).",
            valueName: "quantity"))
    var memory: String?

    @Option(
        help: ArgumentHelp(
            "How compute.mem is enforced: auto (cgroup v1 where writable, else an RSS watchdog), cgroup, watchdog.",
            visibility: .hidden))
    var memoryLimiter = "auto"

    @Option(
        help: ArgumentHelp(
            "PEM certificate chain to serve HTTPS with on both ports (needs --tls-key); clients of this TERN_HOME trust it automatically.",
            valueName: "file"))
    var tlsCertificate: String?

    @Option(help: ArgumentHelp("PEM private key of --tls-certificate.", valueName: "file"))
    var tlsKey: String?

    @Option(
        help: ArgumentHelp(
            "Price of one CPU of compute.cpu for an hour, for the cost `tern get` shows (none set: no cost shown).",
            valueName: "price"))
    var costPerCpuHour: Double?

    @Option(help: ArgumentHelp("Price of one GPU of compute.gpu for an hour.", valueName: "price"))
    var costPerGpuHour: Double?

    @Option(help: ArgumentHelp("Price of one GiB of compute.mem for an hour.", valueName: "price"))
    var costPerGibHour: Double?

    /// The `--cost-per-*` prices; nil when none is given (an unset one counts as 0).
    var pricing: ComputePricing? {
        guard costPerCpuHour != nil || costPerGpuHour != nil || costPerGibHour != nil else { return nil }
        return ComputePricing(cpuHour: costPerCpuHour ?? 0, gpuHour: costPerGpuHour ?? 0, gibHour: costPerGibHour ?? 0)
    }

    @Option(help: "Where replicas run: local (process groups on this machine).")
    var backend = BackendChoice.local.rawValue

    @Option(
        help: ArgumentHelp(
            "Event-loop threads of the server (gateway and control plane): a number, or auto (a third of this machine's cores, at least 1; see docs/benchmarks.md).",
            valueName: "count|auto"))
    var eventLoops = "auto"

    @Option(
        help: ArgumentHelp(
            "Export OpenTelemetry spans of every request (gateway queueing, the replica exchange, the predictor) over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318 (docs/tracing.md). Unset: no tracing.",
            valueName: "url"))
    var otlpEndpoint: String?

    @Option(help: ArgumentHelp("How --otlp-endpoint's spans are encoded: protobuf (OTLP's default) or json.", valueName: "encoding"))
    var otlpEncoding = OTLPTracing.Encoding.protobuf.rawValue

    /// The case of `Choice` that `value` names.
    /// - Throws: `ValidationError` like `--backend: unknown backend "k8s"; expected one of: local`.
    static func choice<Choice: CaseIterable & RawRepresentable>(
        _ value: String, flag: String, what: String
    ) throws -> Choice where Choice.RawValue == String {
        guard let choice = Choice(rawValue: value) else {
            throw ValidationError(
                "\(flag): unknown \(what) \"\(value)\"; expected one of: \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    /// `--otlp-encoding` as an encoding.
    /// - Throws: `ValidationError` for anything but `protobuf` or `json`.
    var otlpEncodingChoice: OTLPTracing.Encoding {
        get throws {
            try Self.choice(otlpEncoding, flag: "--otlp-encoding", what: "encoding")
        }
    }

    @Flag(
        inversion: .prefixedNo,
        help: "Count requests, latencies, replicas, restarts, batches and installs for Prometheus at GET /metrics on the control port (docs/metrics.md); --no-metrics turns them off.")
    var metrics = true

    /// `--event-loops` as a thread count: ``EventLoopCount/automatic(cores:)`` of this machine
    /// for `auto`.
    /// - Throws: `ValidationError` for anything but `auto` or a whole number from 1 to 256.
    var eventLoopCount: Int {
        get throws {
            if eventLoops == "auto" { return EventLoopCount.automatic(cores: ProcessInfo.processInfo.activeProcessorCount) }
            guard let count = Int(eventLoops), (1...256).contains(count) else {
                throw ValidationError("--event-loops: expected auto or a whole number from 1 to 256, not \"\(eventLoops)\"")
            }
            return count
        }
    }

    /// `--cpus` in millicores, when given.
    var cpuMillicores: Int? {
        get throws {
            guard let cpus else { return nil }
            do {
                return try Quantity.cpuMillicores(cpus)
            } catch {
                throw ValidationError("--cpus: \(error)")
            }
        }
    }

    /// `--memory` in bytes, when given.
    var memoryBytes: Int64? {
        get throws {
            guard let memory else { return nil }
            do {
                return try Quantity.bytes(memory)
            } catch {
                throw ValidationError("--memory: \(error)")
            }
        }
    }

    /// `--memory-limiter`.
    var memoryEnforcement: MemoryEnforcement {
        get throws {
            guard let value = MemoryEnforcement(rawValue: memoryLimiter) else {
                throw ValidationError(
                    "--memory-limiter: expected one of \(MemoryEnforcement.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return value
        }
    }

    /// `--backend`.
    /// - Throws: `ValidationError` naming the allowed values, for any other.
    var backendChoice: BackendChoice {
        get throws {
            try Self.choice(backend, flag: "--backend", what: "backend")
        }
    }

    /// The start-up budget and liveness probe of replicas. A probe times out after the interval or
    /// 5 s, whichever is less, so a hung replica is replaced about 3 intervals after it hung.
    var healthChecks: HealthCheckPolicy {
        let interval = Duration.milliseconds(Int64(healthIntervalSeconds * 1000))
        return HealthCheckPolicy(
            startupTimeout: .milliseconds(Int64(startupTimeoutSeconds * 1000)), healthInterval: interval,
            healthTimeout: min(.seconds(5), interval))
    }

    func validate() throws {
        _ = try otlpEncodingChoice
        if let otlpEndpoint {
            do { _ = try OTLPTracing.tracesURL(otlpEndpoint) } catch { throw ValidationError(error.description) }
        }
        guard startupTimeoutSeconds > 0, startupTimeoutSeconds.isFinite else {
            throw ValidationError("--startup-timeout-seconds: must be more than 0")
        }
        guard idleTimeoutSeconds >= 0.1, idleTimeoutSeconds.isFinite else {
            throw ValidationError("--idle-timeout-seconds: must be at least 0.1")
        }
        guard headerTimeoutSeconds >= 0.1, headerTimeoutSeconds.isFinite else {
            throw ValidationError("--header-timeout-seconds: must be at least 0.1")
        }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections: must be at least 1")
        }
        guard jobRetentionHours > 0, jobRetentionHours.isFinite else {
            throw ValidationError("--job-retention-hours: must be more than 0")
        }
        guard jobLeaseSeconds >= 1, jobLeaseSeconds <= 3600 else {
            throw ValidationError("--job-lease-seconds: must be between 1 and 3600")
        }
        guard maxLogBytes == 0 || maxLogBytes >= 4096 else {
            throw ValidationError("--max-log-bytes: must be 0 (no cap) or at least 4096")
        }
        guard healthIntervalSeconds >= 0.1, healthIntervalSeconds.isFinite else {
            throw ValidationError("--health-interval-seconds: must be at least 0.1")
        }
        _ = try cpuMillicores
        _ = try memoryBytes
        _ = try memoryEnforcement
        _ = try backendChoice
        _ = try eventLoopCount
        if try cpuMillicores == 0 { throw ValidationError("--cpus: must be more than 0") }
        if (tlsCertificate == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-certificate and --tls-key go together: give both (HTTPS on both ports) or neither (HTTP)")
        }
        if try memoryBytes == 0 { throw ValidationError("--memory: must be more than 0") }
        for (flag, price) in [("--cost-per-cpu-hour", costPerCpuHour), ("--cost-per-gpu-hour", costPerGpuHour),
                              ("--cost-per-gib-hour", costPerGibHour)] {
            if let price, !(price >= 0 && price.isFinite) {
                throw ValidationError("\(flag): must be a price of 0 or more (got \(price))")
            }
        }
    }

    /// The interpreter for replicas: `--python`, else `$TERN_PYTHON`, else `python3`. A relative
    /// path (one holding a `/`, e.g. `.venv/bin/python`) is made absolute against the current
    /// directory: replicas run in their project's folder, where it would name another file.
    func resolvedPython(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let python = self.python ?? environment["TERN_PYTHON"] ?? "python3"
        guard python.contains("/"), !python.hasPrefix("/") else { return python }
        return URL(fileURLWithPath: python).standardizedFileURL.path
    }

    /// Every option as `(flag, value)`, in declaration order, `--python` made absolute when it
    /// is a path (nil values are left out).
    var flagValues: [(flag: String, value: String)] {
        var result: [(flag: String, value: String)] = [
            ("--host", host), ("--port", String(port)), ("--control-port", String(controlPort)),
            ("--max-body-bytes", String(maxBodyBytes)), ("--max-bundle-bytes", String(maxBundleBytes)),
            ("--max-log-bytes", String(maxLogBytes)),
            ("--stop-grace-seconds", String(stopGraceSeconds)),
            ("--autoscaler-tick-seconds", String(autoscalerTickSeconds)),
            ("--job-retention-hours", String(jobRetentionHours)),
            ("--job-lease-seconds", String(jobLeaseSeconds)),
            ("--cold-start-timeout-seconds", String(coldStartTimeoutSeconds)),
            ("--idle-timeout-seconds", String(idleTimeoutSeconds)),
            ("--header-timeout-seconds", String(headerTimeoutSeconds)),
            ("--startup-timeout-seconds", String(startupTimeoutSeconds)),
            ("--health-interval-seconds", String(healthIntervalSeconds)),
            ("--memory-limiter", memoryLimiter),
            ("--backend", backend),
            ("--event-loops", eventLoops),
            ("--metrics", metrics ? "on" : "off"),
            ("--otlp-encoding", otlpEncoding),
        ]
        if let otlpEndpoint { result.append(("--otlp-endpoint", otlpEndpoint)) }
        if let python { result.append(("--python", python.contains("/") ? resolvedPython() : python)) }
        if let tlsCertificate { result.append(("--tls-certificate", Self.absolute(tlsCertificate))) }
        if let tlsKey { result.append(("--tls-key", Self.absolute(tlsKey))) }
        if let cpus { result.append(("--cpus", cpus)) }
        if let memory { result.append(("--memory", memory)) }
        if let maxConnections { result.append(("--max-connections", String(maxConnections))) }
        if let costPerCpuHour { result.append(("--cost-per-cpu-hour", String(costPerCpuHour))) }
        if let costPerGpuHour { result.append(("--cost-per-gpu-hour", String(costPerGpuHour))) }
        if let costPerGibHour { result.append(("--cost-per-gib-hour", String(costPerGibHour))) }
        return result
    }

    /// `path` made absolute against the current directory.
    static func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    /// The options' defaults (`tern serve` with no arguments).
    static var defaults: [String: String] {
        Dictionary(((try? ServerOptions.parse([]))?.flagValues ?? []).map { ($0.flag, $0.value) }) { $1 }
    }

    /// The arguments that reproduce these options: only those that differ from the defaults,
    /// e.g. `["--port", "18888"]` (for `tern up` and ``ServerOptionsFile``).
    var arguments: [String] {
        let defaults = Self.defaults
        return flagValues.filter { defaults[$0.flag] != $0.value }.flatMap { option -> [String] in
            // A flag without a value: `--metrics` / `--no-metrics`.
            if option.flag == "--metrics" { return [option.value == "on" ? "--metrics" : "--no-metrics"] }
            return [option.flag, option.value]
        }
    }

    /// The options whose values differ between `self` and `other`, as
    /// `(flag, self's value, other's value)`; a missing optional value reads `default`.
    func differences(from other: ServerOptions) -> [(flag: String, mine: String, theirs: String)] {
        let mine = Dictionary(flagValues.map { ($0.flag, $0.value) }) { $1 }
        let theirs = Dictionary(other.flagValues.map { ($0.flag, $0.value) }) { $1 }
        let flags = flagValues.map(\.flag) + other.flagValues.map(\.flag).filter { mine[$0] == nil }
        return flags.compactMap { flag in
            mine[flag] == theirs[flag] ? nil : (flag, mine[flag] ?? "default", theirs[flag] ?? "default")
        }
    }
}

extension Tern {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the Tern server (control plane and gateway) in the foreground.",
            discussion: """
                Most users run `tern up` instead, which starts this in the background. SIGTERM or \
                SIGINT stops it gracefully: in-flight requests finish, then replicas stop.

                Replicas' compute requests (compute.cpu, compute.mem, compute.gpu) share this \
                machine's cores, memory and GPUs (or --cpus/--memory); replicas that do not fit \
                wait and the API shows `compute unavailable`. See docs/resources.md.

                Once both ports listen, the options are saved in TERN_HOME/server-options.json; \
                a server that other commands start on demand reuses them.

                Examples:
                  tern serve --port 8888 --control-port 8889 --python .venv/bin/python
                  tern serve --cpus 1500m --memory 8Gi
                """)

        @OptionGroup var global: HomeOption
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let home = global.ternHome
            var configuredLogger = Logger(label: "tern")
            configuredLogger.logLevel =
                ProcessInfo.processInfo.environment["TERN_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
            let logger = configuredLogger
            if let problem = DeployCrashHook.validationError() { throw CLIError(problem) }
            if let step = DeployCrashHook.target {
                logger.warning("test-only crash hook armed: this server kills itself when a deploy reaches \(step)")
            }
            for folder in [home.root, home.bundles, home.logs, home.run] {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            let descriptors = FileDescriptorLimit.raiseSoftToHard()
            logger.debug("file descriptor limit", metadata: ["soft": "\(descriptors)"])
            let lock = try ServerLock(path: home.serveLock)
            defer { lock.release() }
            let token = try TokenFile.loadOrCreate(path: home.tokenFile)
            let runtimePath = try RuntimeInstaller.install(home: home.root)
            let python = options.resolvedPython()
            let tls = try options.tlsConfiguration
            var controlConfiguration = ControlPlaneServerConfiguration(
                host: options.host, port: options.controlPort, token: token, home: home.root,
                tokenFile: home.tokenFile, tls: tls,
                // Its idle timeout also bounds a trickling head (Hummingbird counts parts).
                idleTimeout: .milliseconds(Int64(min(options.idleTimeoutSeconds, options.headerTimeoutSeconds) * 1000)))
            // Request heads NIO's decoder refuses get the gateway's JSON answers (431, 400, 505).
            controlConfiguration.connectionHandlers = ConnectionRefusal.channelHandlers(
                maxHeaderBytes: controlConfiguration.maxHeaderBytes, maxHeaderCount: controlConfiguration.maxHeaderCount,
                listener: .controlPlane)
            let controlURL = controlConfiguration.url
            let gatewayURL = "\(tls == nil ? "http" : "https")://\(options.host):\(options.port)"
            let certificateFile = options.tlsCertificate.map(ServerOptions.absolute)

            // The statistics of `tern get` (traffic, latencies, prediction monitoring).
            let trafficRecorder = TrafficRecorder()
            let metrics = options.metrics ? ServerMetrics() : nil
            // Spans of every request, exported by a service of the group, when --otlp-endpoint is set.
            let tracing = try options.otlpEndpoint.map {
                try OTLPTracing.make(endpoint: $0, encoding: try options.otlpEncodingChoice)
            }
            let gateway = Gateway(
                configuration: GatewayConfiguration(
                    host: options.host, port: options.port, maxBodyBytes: options.maxBodyBytes,
                    coldStartTimeout: .milliseconds(Int64(options.coldStartTimeoutSeconds * 1000)),
                    drainGracePeriod: .seconds(options.stopGraceSeconds),
                    idleTimeout: .milliseconds(Int64(options.idleTimeoutSeconds * 1000)),
                    limits: ConnectionLimits(
                        headerTimeout: .milliseconds(Int64(options.headerTimeoutSeconds * 1000)),
                        maxConnections: options.maxConnections ?? FileDescriptorLimit.defaultMaxConnections(descriptors: descriptors)),
                    observers: [trafficRecorder] + (metrics.map { [$0] } ?? []),
                    tracer: tracing?.tracer, tls: tls),
                logger: logger)
            let backend: any ReplicaBackend & WorkerBackend
            switch try options.backendChoice {
            case .local:
                backend = LocalBackend(
                    configuration: LocalBackendConfiguration(
                        python: python, runtimePath: runtimePath, runDirectory: home.run, logDirectory: home.logs,
                        stopGracePeriod: .seconds(options.stopGraceSeconds),
                        cpuCapacityMillicores: try options.cpuMillicores, memoryCapacityBytes: try options.memoryBytes,
                        memoryEnforcement: try options.memoryEnforcement, healthChecks: options.healthChecks,
                        maxLogBytes: options.maxLogBytes, observer: metrics),
                    registry: gateway, logger: logger)
            }
            let store = try Store(path: home.database)
            // The autoscaler's counts go through the store, so a restart brings them back.
            let autoscaler = Autoscaler(
                configuration: AutoscalerConfiguration(
                    sampleInterval: .milliseconds(Int64(min(1, options.autoscalerTickSeconds) * 1000)),
                    tick: .milliseconds(Int64(options.autoscalerTickSeconds * 1000))),
                backend: ReplicaCountRecorder(scaler: backend, store: store, logger: logger), inFlight: gateway,
                logger: logger)
            gateway.setScalingRegistry(autoscaler)
            let jobs = JobService(
                store: store, workers: backend, controlURL: controlURL, controlCAFile: certificateFile,
                configuration: JobServiceConfiguration(leaseSeconds: options.jobLeaseSeconds, retentionSeconds: options.jobRetentionHours * 3600),
                logger: logger, observer: metrics,
                revision: { try? store.deployedRevision(api: $0) })
            let asyncQueues = AsyncQueueService(
                store: store, workers: backend, controlURL: controlURL, controlCAFile: certificateFile,
                configuration: AsyncQueueConfiguration(leaseSeconds: options.jobLeaseSeconds, retentionSeconds: options.jobRetentionHours * 3600),
                logger: logger)
            // AsyncAPI workers scale like replicas, on queue length plus requests in progress.
            let asyncAutoscaler = Autoscaler(
                configuration: AutoscalerConfiguration(
                    sampleInterval: .milliseconds(Int64(min(1, options.autoscalerTickSeconds) * 1000)),
                    tick: .milliseconds(Int64(options.autoscalerTickSeconds * 1000))),
                backend: asyncQueues, inFlight: asyncQueues, logger: logger)
            await asyncQueues.setScaling(asyncAutoscaler)
            // Cortex's job routes and AsyncAPI requests on the APIs' own endpoints.
            gateway.setQueueEndpoint(QueueRouter(jobs: jobs, async: asyncQueues, kind: { try? store.deployedRevision(api: $0)?.spec.kind }))
            let controlPlane = ControlPlane(
                store: store,
                extractor: BundleExtractor(
                    bundlesDirectory: home.bundles,
                    limits: BundleLimits(
                        maxUploadBytes: options.maxBundleBytes,
                        maxExtractedBytes: max(UInt64(options.maxBundleBytes) * 4, 1 << 30))),
                backend: backend, routes: gateway, inFlight: gateway, scaling: autoscaler, jobs: jobs, asyncQueues: asyncQueues,
                traffic: trafficRecorder, pricing: options.pricing, gatewayURL: gatewayURL,
                logger: logger)

            // GET /metrics: the registry plus the API documents' gauges, read at each scrape.
            let metricsScrape: (@Sendable () async -> [UInt8])? = metrics.map { metrics in
                { @Sendable () async -> [UInt8] in
                    let apis = (try? await controlPlane.list()) ?? []
                    return metrics.exposition(apis: apis)
                }
            }
            let info = ServerInfo(
                version: ternVersion, gatewayURL: gatewayURL, controlURL: controlURL, home: home.root, pid: getpid(),
                tlsCAFile: certificateFile)
            let readiness = StartupTracker(expected: 2) {
                try? WireJSON.encoder().encode(info).write(to: URL(fileURLWithPath: home.serverFile), options: .atomic)
                // Saved once both ports listen, so a start that failed (e.g. a port in use) does
                // not replace the options of the last server that worked.
                do {
                    try ServerOptionsFile.save(options, home: home)
                } catch {
                    logger.warning("could not save the server options", metadata: ["file": "\(home.serverOptionsFile)", "error": "\(error)"])
                }
                logger.info("tern serve is ready", metadata: ["gateway": "\(info.gatewayURL)", "control": "\(info.controlURL)"])
            }
            // The span exporter first: it stops last, flushing the spans of the last requests.
            let services: [any Service] = (tracing.map { [$0.service] } ?? []) + [
                ReplicaService(controlPlane: controlPlane, backend: backend, logger: logger),
                autoscaler,
                asyncAutoscaler,
                trafficRecorder,
                ListeningService(
                    try ControlPlaneServer.makeService(
                        controlPlane: controlPlane,
                        configuration: controlConfiguration,
                        uploadLimit: options.maxBundleBytes, logger: logger,
                        metrics: metricsScrape,
                        onRunning: { _ in await readiness.started() }),
                    host: options.host, port: options.controlPort, flag: "--control-port"),
                ListeningService(
                    try gateway.makeService(onRunning: { _ in await readiness.started() }),
                    host: options.host, port: options.port, flag: "--port"),
                // Last: the first told of a shutdown (services stop in reverse order, one by one).
                AsyncQueueMonitor(queues: asyncQueues),
            ]
            var groupConfiguration = ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            // Bounded shutdown: the gateway drains (stop grace), then replicas stop (stop grace
            // again, SIGKILL after it); past that, whatever still runs is cancelled.
            groupConfiguration.maximumGracefulShutdownDuration = .seconds(2 * options.stopGraceSeconds + 5)
            let group = ServiceGroup(configuration: groupConfiguration)
            defer { try? FileManager.default.removeItem(atPath: home.serverFile) }
            try await group.run()
            logger.info("tern serve stopped")
        }
    }
}

/// Restores deployed APIs at start and stops every replica at shutdown. Listed first in the
/// service group, so it shuts down last: after the gateway stopped taking requests.
struct ReplicaService: Service {
    let controlPlane: ControlPlane
    let backend: any ReplicaBackend
    let logger: Logger

    func run() async throws {
        do {
            try await controlPlane.restore()
        } catch {
            logger.error("could not restore deployed APIs", metadata: ["error": "\(error)"])
        }
        let jobs = controlPlane.jobs
        await jobs?.restore()
        let monitor = Task { await jobs?.run() }
        try? await gracefulShutdown()
        monitor.cancel()
        logger.info("stopping replicas")
        // Not cancelled with the service group: replicas always get their SIGTERM, grace, SIGKILL.
        await Task { await backend.shutdown() }.value
    }
}

/// Expires AsyncAPI leases and deletes old results while the server runs. Listed last, so it is
/// the first told of a shutdown: it ends the workers' long-polling leases at once, so that the
/// control plane's server does not wait for them.
struct AsyncQueueMonitor: Service {
    let queues: AsyncQueueService

    func run() async throws {
        let monitor = Task { await queues.run() }
        try? await gracefulShutdown()
        monitor.cancel()
        await queues.shutdown()
    }
}

/// The backends `tern serve --backend` can run replicas on.
enum BackendChoice: String, CaseIterable, Sendable {
    /// ``LocalBackend``: process groups on this machine (TernSupervisor).
    case local
}

/// Calls `done` once `expected` servers reported they are listening.
actor StartupTracker {
    private var remaining: Int
    private let done: @Sendable () -> Void

    init(expected: Int, done: @escaping @Sendable () -> Void) {
        self.remaining = expected
        self.done = done
    }

    func started() {
        remaining -= 1
        if remaining == 0 { done() }
    }
}

extension TernHome {
    /// `TERN_HOME/serve.lock`, held (`flock`, exclusive) by the running server.
    var serveLock: String { root + "/serve.lock" }
}

/// An exclusive lock on `TERN_HOME/serve.lock`: one server per home. The kernel releases it when
/// the server exits in any way (even SIGKILL), so it tells a live server from a stale
/// `server.json` (see ``isHeld(path:)``).
struct ServerLock {
    private let fd: Int32

    /// Takes the lock, retrying for up to 1 s: a CLI's ``isHeld(path:)`` probe holds it for a
    /// few microseconds.
    /// - Throws: ``CLIError`` when another server holds it.
    init(path: String) throws {
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot open \(path): \(String(cString: strerror(errno)))") }
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            attempts += 1
            guard errno == EWOULDBLOCK || errno == EINTR, attempts < 20 else {
                close(fd)
                throw CLIError("another Tern server is already running with this TERN_HOME; stop it with `tern down`")
            }
            usleep(50_000)
        }
    }

    func release() {
        close(fd)
    }

    /// Whether a server holds the lock at `path` now: tries a shared lock without waiting and
    /// releases it at once. A missing file means no server.
    static func isHeld(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return errno == EWOULDBLOCK }
        flock(fd, LOCK_UN)
        return false
    }
}

/// A listening server of `tern serve` whose bind failure names the address, the port and the
/// option that changes it, instead of NIO's `bind(descriptor:ptr:bytes:): Address already in use`.
struct ListeningService: Service {
    let base: any Service
    let host: String
    let port: Int
    let flag: String

    init(_ base: any Service, host: String, port: Int, flag: String) {
        self.base = base
        self.host = host
        self.port = port
        self.flag = flag
    }

    func run() async throws {
        do {
            try await base.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw CLIError("port \(port) on \(host) is in use; stop what uses it or start with `tern up \(flag) N`")
        } catch let error as IOError where ["bind", "listen"].contains(where: { error.description.hasPrefix($0) }) {
            throw CLIError("cannot listen on \(host):\(port) (\(flag)): \(String(cString: strerror(error.errnoCode)))")
        }
    }
}

/// The control-plane bearer token: 32 random bytes as hex, generated on first start and stored
/// with mode 0600.
enum TokenFile {
    static func loadOrCreate(path: String) throws -> String {
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.count >= 32 {
                chmod(path, 0o600)
                return token
            }
        }
        let token = ControlToken.generate()
        do {
            try ControlToken.write(token, to: path)
        } catch {
            throw CLIError("\(error)")
        }
        return token
    }
}

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`).
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard one, as servers that hold many connections do (nginx's
    /// `worker_rlimit_nofile`, Go's runtime since 1.19): every client connection, replica socket
    /// and log file is a descriptor, and the usual soft limit of 1,024 would make the gateway
    /// refuse connections (`EMFILE`) long before memory runs out (10,000 idle client connections
    /// cost about 12 KiB each, bench/scale.sh). Replicas inherit the raised limit.
    /// - Returns: the soft limit now in force (unchanged when it cannot be read or raised).
    @discardableResult
    static func raiseSoftToHard() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }

    /// The gateway's default `--max-connections`: three quarters of the descriptor limit
    /// `descriptors`, leaving a quarter for replica sockets, log files, the database and the
    /// control plane (15,000 of 20,000; 786,432 of 1,048,576), at least 16; no limit when the
    /// limit is unknown (0) or unlimited.
    static func defaultMaxConnections(descriptors: UInt64) -> Int? {
        guard descriptors > 0, descriptors < UInt64(Int32.max) else { return nil }
        return max(16, Int(descriptors) / 4 * 3)
    }
}
