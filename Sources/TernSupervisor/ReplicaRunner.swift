import Foundation
import Logging
import Subprocess
import SystemPackage
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs one replica: reserves its `compute` request on the machine (waiting while it does not
/// fit), starts `python -m tern_runtime` as its own session (process group) under its
/// `compute.mem_limit`, copies its output to the API's log, attaches it to the data plane once
/// its worker sockets exist, reports when it uses more memory than its `compute.mem` request
/// (``MemoryRequestWatch``), restarts it with backoff when it exits (telling out-of-memory kills
/// apart), and stops it on request (drain, SIGTERM to the group, SIGKILL to the group after the
/// grace period), returning its reservation once the group is gone. The group kill after every
/// exit leaves no orphan behind.
///
/// Under ``HealthCheckPolicy``, it also kills (and so restarts) a replica whose predictor is still
/// loading past the start-up budget, and one that stops answering `health` frames while ready.
actor ReplicaRunner {
    /// Everything the runner needs to start its process.
    struct Launch: Sendable {
        var deployment: Deployment
        var replicaID: String
        var python: String
        var runtimePath: String
        var runDirectory: String
        var restartPolicy: RestartPolicy
        var stopGracePeriod: Duration
        /// Start-up budget and liveness probe.
        var healthChecks: HealthCheckPolicy = HealthCheckPolicy()
        /// The machine's capacity, shared by every replica.
        var compute: ComputePool
        /// Enforces `compute.mem_limit`.
        var memoryLimiter: any MemoryLimiter
        /// Every wait of the runner (polls, backoff, probes, stop grace) sleeps on it.
        var clock: SupervisorClock = SupervisorClock(ContinuousClock())
        /// Set for a worker of a job or queue (docs/work-protocol.md): it pulls its work, so it
        /// is never attached to the data plane, is `ready` while it runs, and is not started
        /// again once it exits with code 0 (or at all without ``WorkerGroup/restartOnFailure``).
        var worker: WorkerGroup?
        /// Told of every restart (metrics); nil: nobody.
        var observer: (any PlatformObserver)?
    }

    let launch: Launch
    private let registry: any ReplicaRegistry
    private let log: APILog
    private let logger: Logger

    private(set) var state: ReplicaState = .starting
    private(set) var pid: Int32?
    private(set) var restarts = 0
    private(set) var lastExit: String?
    /// Exit code of the last run, when it exited (rather than being signalled).
    private(set) var lastExitCode: Int32?
    /// The last line the replica printed before it exited (e.g. the exception of a traceback).
    private(set) var lastOutputLine: String?
    /// Consecutive runs that ended without a long enough ready period.
    private(set) var consecutiveFailures = 0
    /// When the current run became ready (``SupervisorClock/now``).
    private var readySince: Duration?
    /// Why the process has not started yet (``ResourcePlanner/waitingMessage(for:)``); nil once
    /// the replica holds its reservation.
    private(set) var computeWait: String?
    private var reservation: ResourcePlanner.Reservation?
    /// The last run was killed for going over `compute.mem_limit`.
    private(set) var lastExitOutOfMemory = false
    /// Runs killed for going over `compute.mem_limit` so far.
    private(set) var outOfMemoryKills = 0
    /// The last run became ready before it exited (a crash while serving, not while loading).
    private(set) var lastRunWasReady = false
    /// While the running replica uses more than its `compute.mem` request, by how much
    /// (``MemoryRequestWatch``); nil otherwise.
    private(set) var memoryOverRequest: String?
    /// The last run was killed because its predictor was still loading past
    /// ``HealthCheckPolicy/startupTimeout`` (an init failure).
    private(set) var lastExitInitTimedOut = false
    /// Why the runner killed the current run itself (start-up budget, liveness), recorded as its
    /// last exit instead of `killed by signal 9`.
    private var killReason: (text: String, initTimedOut: Bool)?
    private var stopping = false
    private var loop: Task<Void, Never>?

    init(launch: Launch, registry: any ReplicaRegistry, log: APILog, logger: Logger) {
        self.launch = launch
        self.registry = registry
        self.log = log
        self.logger = logger
        // A worker's id comes back when its group is restarted or scales down and up again, while
        // the old runner may still be stopping: each runner gets a folder of its own, removed
        // when it stops. A replica's folder is its id (its id is never reused).
        folder = launch.runDirectory + "/" + launch.replicaID
            + (launch.worker == nil ? "" : "." + String(UInt32.random(in: 0...UInt32.max), radix: 16))
    }

    /// `TERN_HOME/run/<replica id>` (a worker's: `<worker id>.<random hex>`): the sockets, spec and job file.
    let folder: String

    var replicaID: String { launch.replicaID }
    var revision: Int { launch.deployment.revision }

    /// A snapshot for status reports.
    var document: ReplicaDocument {
        ReplicaDocument(
            id: launch.replicaID, revision: launch.deployment.revision, state: state, pid: pid,
            restarts: restarts, lastExit: lastExit,
            uptimeSeconds: state == .ready ? readySince.map { Self.seconds(launch.clock.now - $0) } : nil)
    }

    /// `duration` in seconds, to the millisecond.
    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return (Double(seconds) + Double(attoseconds / 1_000_000_000_000_000) / 1000)
    }

    /// Everything ``StatusDeriver`` needs to know about this replica now.
    var snapshot: ReplicaSnapshot {
        ReplicaSnapshot(
            document: document, lastExitCode: lastExitCode, lastOutputLine: lastOutputLine,
            consecutiveFailures: consecutiveFailures, computeWait: computeWait, lastExitOutOfMemory: lastExitOutOfMemory,
            outOfMemoryKills: outOfMemoryKills, lastRunWasReady: lastRunWasReady, memoryLimit: memoryLimitText,
            lastExitInitTimedOut: lastExitInitTimedOut, modelProblems: modelProblems,
            memoryOverRequest: memoryOverRequest)
    }

    /// Failed model reloads the running replica reports (``ModelProblems``), while it is ready;
    /// `[]` otherwise.
    var modelProblems: [String] {
        guard state == .ready else { return [] }
        return ModelProblems.read(socketDirectory: folder)
    }

    /// A snapshot for job and queue status reports (workers).
    var workerSnapshot: WorkerSnapshot {
        WorkerSnapshot(
            id: launch.replicaID, state: state, restarts: restarts, consecutiveFailures: consecutiveFailures,
            lastExit: lastExit, lastExitCode: lastExitCode, outOfMemory: lastExitOutOfMemory,
            lastOutputLine: lastOutputLine, waiting: computeWait)
    }

    /// Starts the run loop.
    func start() {
        guard loop == nil else { return }
        loop = Task { await self.runLoop() }
    }

    /// Drains and stops the replica; returns when its process group is gone.
    func stop() async {
        stopping = true
        if state != .exited { state = .draining }
        if launch.worker == nil {
            await registry.detach(api: launch.deployment.spec.name, replicaID: launch.replicaID, grace: launch.stopGracePeriod)
        }
        if let pid {
            signalGroup(pid, SIGTERM)
            let deadline = launch.clock.now + launch.stopGracePeriod
            while self.pid == pid && launch.clock.now < deadline {
                try? await launch.clock.sleep(for: .milliseconds(20))
            }
            if self.pid == pid { signalGroup(pid, SIGKILL) }
        }
        loop?.cancel()
        await loop?.value
        await launch.compute.release(launch.replicaID)  // only now: the process group is gone
        reservation = nil
        computeWait = nil
        if launch.worker != nil {  // a job worker's folder holds job.json (the whole submission): not kept
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    /// `compute.mem_limit` as users write it (`256Mi`), when set.
    var memoryLimitText: String? {
        launch.deployment.spec.compute.memLimitBytes.map(Quantity.formatBytes)
    }

    /// Reserves the replica's `compute` request, polling every 250 ms while it does not fit;
    /// returns false when the replica is stopped first.
    private func acquireCompute() async -> Bool {
        let request = ResourcePlanner.Request(launch.deployment.spec.compute)
        while !stopping && !Task.isCancelled {
            switch await launch.compute.reserve(launch.replicaID, request) {
            case .success(let reservation):
                self.reservation = reservation
                if computeWait != nil {
                    await log.append(["replica \(launch.replicaID) got its compute; starting"], source: "tern")
                }
                computeWait = nil
                return true
            case .failure(let waiting):
                if computeWait == nil {
                    await log.append(["replica \(launch.replicaID) \(waiting.message)"], source: "tern")
                }
                computeWait = waiting.message
            }
            try? await launch.clock.sleep(for: .milliseconds(250))
        }
        return false
    }

    private func runLoop() async {
        guard await acquireCompute() else { return }
        while !stopping && !Task.isCancelled {
            state = .starting
            await runOnce()
            if stopping || Task.isCancelled { break }
            if let worker = launch.worker, lastExitCode == 0 || !worker.restartOnFailure {
                state = .exited
                await log.append(["worker \(launch.replicaID) \(lastExit ?? "exited")"], source: "tern")
                break
            }
            consecutiveFailures += 1
            restarts += 1
            launch.observer?.replicaRestarted(api: launch.deployment.spec.name)
            let delay = launch.restartPolicy.delay(afterConsecutiveFailures: consecutiveFailures)
            state = .backoff
            await log.append(["replica \(launch.replicaID) \(lastExit ?? "exited"); restarting in \(delay.formattedSeconds)"], source: "tern")
            try? await launch.clock.sleep(for: delay)
        }
    }

    /// Starts the process and returns when it has exited and its group is gone.
    private func runOnce() async {
        let socketDirectory = folder
        try? FileManager.default.removeItem(atPath: socketDirectory)
        try? FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        let specPath = socketDirectory + "/spec.json"
        do {
            try RuntimeSpec(deployment: launch.deployment).encoded().write(to: URL(fileURLWithPath: specPath))
        } catch {
            lastExit = "could not write \(specPath): \(error)"
            return
        }

        var environment: [Environment.Key: String?] = [:]
        for (key, value) in launch.deployment.environment {
            if let key = Environment.Key(rawValue: key) { environment[key] = value }
        }
        environment["PYTHONPATH"] = launch.runtimePath
        environment["PYTHONUNBUFFERED"] = "1"
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        if let gpus = reservation?.gpuIDs, !gpus.isEmpty {
            environment["CUDA_VISIBLE_DEVICES"] = gpus.joined(separator: ",")
        } else if !launch.compute.capacity.gpuIDs.isEmpty, launch.deployment.environment["CUDA_VISIBLE_DEVICES"] == nil {
            environment["CUDA_VISIBLE_DEVICES"] = ""  // `compute.gpu: 0` gets no GPU, as on Kubernetes
        }
        let limit = launch.deployment.spec.compute.memLimitBytes.map {
            launch.memoryLimiter.makeLimit(replicaID: launch.replicaID, bytes: $0)
        }
        var options = PlatformOptions()
        options.createSession = true
        var arguments = [
            "-m", "tern_runtime", "--spec", specPath, "--socket-dir", socketDirectory,
            "--replica-id", launch.replicaID, "--parent-pid", String(getpid()),
        ]
        if let worker = launch.worker {
            let jobPath = socketDirectory + "/job.json"
            do {
                try Data(worker.jobFile).write(to: URL(fileURLWithPath: jobPath))
            } catch {
                lastExit = "could not write \(jobPath): \(error)"
                return
            }
            arguments += ["--work-url", worker.workURL, "--job-file", jobPath]
            environment["TERN_WORK_TOKEN"] = worker.token
            if let caFile = worker.workCAFile { environment["TERN_WORK_CA_FILE"] = caFile }
        }
        let executable: Executable = launch.python.contains("/") ? .path(FilePath(launch.python)) : .name(launch.python)
        let result: TerminationStatus
        do {
            result = try await Subprocess.run(
                executable, arguments: Arguments(arguments), environment: .inherit.updating(environment),
                workingDirectory: FilePath(launch.deployment.projectDirectory), platformOptions: options,
                input: .none, output: .sequence, error: .combinedWithOutput
            ) { execution in
                let processID = execution.processIdentifier.value
                limit?.attach(pid: processID)  // before the replica allocates anything
                await self.started(pid: processID)
                await withTaskGroup(of: Void.self) { group in
                    if launch.worker == nil {
                        group.addTask { await self.attachWhenReady(socketDirectory: socketDirectory, limit: limit) }
                    } else {
                        await self.workerRunning()
                    }
                    if let watch = MemoryRequestWatch(launch.deployment.spec.compute) {
                        group.addTask { await self.watchMemoryRequest(watch, pid: processID) }
                    }
                    await self.pump(execution.standardOutput)
                    group.cancelAll()
                }
            }.terminationStatus
        } catch {
            lastExit = "could not start \(launch.python): \(error)"
            await log.append([lastExit!], source: "tern")
            await limit?.release()
            return
        }
        await exited(result, limit: limit)
    }

    /// A worker counts as ready while its process runs (it has no sockets to wait for).
    private func workerRunning() {
        guard !stopping else { return }
        state = .ready
        readySince = launch.clock.now
    }

    private func started(pid: Int32) async {
        self.pid = pid
        lastOutputLine = nil
        killReason = nil
        if stopping {
            // stop() ran between the spawn and this call, when there was no pid to signal yet.
            signalGroup(pid, SIGKILL)
            return
        }
        await log.append(["replica \(launch.replicaID) started (pid \(pid), revision \(launch.deployment.revision))"], source: "tern")
    }

    /// Copies output to the log line by line; returns at end of output (the group exited).
    private func pump(_ output: SubprocessOutputSequence) async {
        var pending: [UInt8] = []
        do {
            for try await buffer in output {
                buffer.withUnsafeBytes { pending.append(contentsOf: $0) }
                var lines: [String] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
                if pending.count > 64 * 1024 {
                    lines.append(String(decoding: pending, as: UTF8.self))
                    pending.removeAll()
                }
                if let last = lines.last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    lastOutputLine = last
                }
                await log.append(lines, source: launch.replicaID)
            }
        } catch {
            logger.debug("output pump ended", metadata: ["error": "\(error)"])
        }
        if !pending.isEmpty {
            let line = String(decoding: pending, as: UTF8.self)
            lastOutputLine = line
            await log.append([line], source: launch.replicaID)
        }
    }

    /// Polls for every worker socket, then asks the data plane to attach the replica and, once it
    /// is ready, probes it until the run ends. Kills the replica when its sockets do not all
    /// appear within the start-up budget.
    private func attachWhenReady(socketDirectory: String, limit: (any MemoryLimit)?) async {
        let spec = launch.deployment.spec
        let processes = spec.predictor?.processesPerReplica ?? 1
        let paths = (0..<processes).map { "\(socketDirectory)/worker-\($0).sock" }
        let budget = launch.healthChecks.startupTimeout
        let step = await launch.healthChecks.awaitStartup(clock: launch.clock) {
            paths.allSatisfy { FileManager.default.fileExists(atPath: $0) }
        }
        if step == .kill {
            guard !stopping, let pid else { return }
            killReason = ("init timed out after \(budget.formattedSeconds)", true)
            await log.append(
                ["replica \(launch.replicaID) was still loading its predictor after \(budget.formattedSeconds) (the start-up budget, `tern serve --startup-timeout-seconds`); stopping it"],
                source: "tern")
            signalGroup(pid, SIGKILL)
            return
        }
        guard step == .attach, !Task.isCancelled, !stopping else { return }
        guard limit?.enforceNow() ?? true else { return }  // loaded over compute.mem: killed, never serves
        let endpoint = ReplicaEndpoint(
            api: spec.name, replicaID: launch.replicaID, revision: launch.deployment.revision,
            addresses: paths.map { .unix(path: $0) }, slotsPerWorker: spec.predictor?.threadsPerProcess ?? 1)
        do {
            try await registry.attach(endpoint)
            guard !stopping else { return }
            state = .ready
            readySince = launch.clock.now
            await log.append(["replica \(launch.replicaID) is ready"], source: "tern")
        } catch {
            await log.append(["replica \(launch.replicaID) did not answer its health check (\(error)); stopping it"], source: "tern")
            if let pid { signalGroup(pid, SIGKILL) }
            return
        }
        await monitorHealth()
    }

    /// Liveness: while the replica is ready, sends a `health` frame to each of its workers every
    /// `healthInterval` (a probe that takes longer delays the next one); after `failureThreshold`
    /// failures in a row, kills the process group, which restarts the replica through the usual
    /// exit path. Runs as a child task of the run, so it ends when the process exits.
    private func monitorHealth() async {
        let policy = launch.healthChecks
        var liveness = HealthCheckPolicy.Liveness(threshold: policy.failureThreshold)
        let clock = launch.clock
        var next = clock.now + policy.healthInterval
        while !Task.isCancelled {
            try? await clock.sleep(until: next)
            guard !Task.isCancelled, !stopping, state == .ready, let pid else { return }
            let probeStart = clock.now
            let healthy = await registry.probe(
                api: launch.deployment.spec.name, replicaID: launch.replicaID, timeout: policy.healthTimeout)
            // The run ended or the replica is being stopped meanwhile: its answer means nothing.
            guard !Task.isCancelled, !stopping, state == .ready, self.pid == pid else { return }
            next = max(probeStart + policy.healthInterval, clock.now)
            let kill = liveness.record(healthy: healthy)
            if !healthy && !kill {
                await log.append(
                    ["replica \(launch.replicaID) did not answer a health check within \(policy.healthTimeout.formattedSeconds) (\(liveness.consecutiveFailures) of \(liveness.threshold) in a row)"],
                    source: "tern")
            }
            if kill {
                killReason = ("not answering health checks", false)
                await log.append(
                    ["replica \(launch.replicaID) did not answer \(liveness.threshold) health checks in a row; restarting it"],
                    source: "tern")
                signalGroup(pid, SIGKILL)
                return
            }
        }
    }

    /// Samples the replica's resident memory every ``MemoryRequestWatch/interval`` while it runs
    /// and logs each time it goes over its `compute.mem` request (and back under); the API's
    /// message says so meanwhile (``memoryOverRequest``). Runs as a child task of the run.
    private func watchMemoryRequest(_ initial: MemoryRequestWatch, pid: Int32) async {
        var watch = initial
        while !Task.isCancelled {
            try? await launch.clock.sleep(for: MemoryRequestWatch.interval)
            guard !Task.isCancelled, self.pid == pid else { return }
            let members = ProcessGroupMemory.members(ofSession: pid)
            guard !members.isEmpty else { return }
            switch watch.record(residentBytes: ProcessGroupMemory.residentBytes(of: members)) {
            case .wentOver(let usage):
                memoryOverRequest = usage
                await log.append(["replica \(launch.replicaID) \(usage) (a reservation, not a limit: it keeps serving; set compute.mem_limit to enforce one)"], source: "tern")
            case .cameBack(let usage):
                memoryOverRequest = nil
                await log.append(["replica \(launch.replicaID) \(usage)"], source: "tern")
            case .over(let usage):
                memoryOverRequest = usage
            case nil:
                break
            }
        }
    }

    private func exited(_ status: TerminationStatus, limit: (any MemoryLimit)?) async {
        if let pid { signalGroup(pid, SIGKILL) }  // reap anything the predictor left in the group
        pid = nil
        memoryOverRequest = nil
        lastRunWasReady = readySince != nil
        consecutiveFailures = launch.restartPolicy.consecutiveFailures(
            consecutiveFailures, afterRunReadyFor: readySince.map { launch.clock.now - $0 })
        readySince = nil
        if launch.worker == nil {
            await registry.detach(api: launch.deployment.spec.name, replicaID: launch.replicaID, grace: .zero)
        }
        let termination: ReplicaExit.Termination
        switch status {
        case .exited(let code): termination = .exited(code)
        case .signaled(let signal): termination = .signaled(signal)
        }
        let exit = ReplicaExit(
            termination, killReason: killReason,
            outOfMemory: limit?.wasOutOfMemory(killed: ReplicaExit.wasKilled(termination)) ?? false,
            memoryLimit: memoryLimitText)
        killReason = nil
        lastExit = exit.description
        lastExitCode = exit.exitCode
        lastExitInitTimedOut = exit.initTimedOut
        lastExitOutOfMemory = exit.outOfMemory
        if exit.outOfMemory { outOfMemoryKills += 1 }
        await limit?.release()
        if !lastRunWasReady && !stopping && launch.worker == nil {
            let reason = lastOutputLine.map { ": \($0)" } ?? ""
            await registry.startFailed(
                api: launch.deployment.spec.name,
                message: "replica \(launch.replicaID) \(lastExit ?? "exited")\(reason) before it was ready")
        }
    }
}

/// Sends `signal` to the process group led by `pid` (replicas are session leaders).
func signalGroup(_ pid: Int32, _ signal: Int32) {
    _ = kill(-pid, signal)
}

extension Duration {
    /// `1.5 s` style text for messages.
    var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }
}
