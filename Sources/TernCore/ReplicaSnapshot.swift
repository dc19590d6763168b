/// What one replica looks like at one moment, as any backend can report it: the input of
/// ``StatusDeriver``.
///
/// The local backend fills it from its replica runner; a Kubernetes backend would fill it from
/// the Pod's status (the field comments say where), so both derive API statuses the same way.
public struct ReplicaSnapshot: Sendable, Equatable {
    /// Id, revision, state, process id, restarts and last exit, as `tern get NAME` shows them
    /// (Kubernetes: the pod name, its revision label, readiness, no pid, the container's
    /// `restartCount` and last termination reason).
    public var document: ReplicaDocument
    /// Exit code of the last run when it exited rather than being signalled; 3 means the
    /// predictor failed to load (docs/replica-protocol.md). Kubernetes:
    /// `lastState.terminated.exitCode`.
    public var lastExitCode: Int32?
    /// The last non-blank line the replica printed before it exited (e.g. the exception of a
    /// traceback). Kubernetes: the last line of the previous container's log.
    public var lastOutputLine: String?
    /// Consecutive runs that ended without staying ready long enough to reset the count
    /// (``ReplicaDocument/restarts`` counts every run). Kubernetes: restarts within the
    /// CrashLoopBackOff reset window.
    public var consecutiveFailures: Int
    /// Why the replica waits for compute before it can start, e.g. `waiting for compute: needs
    /// 600m CPU; free 400m CPU (not enough CPU)`; nil once placed. Kubernetes: the scheduler's
    /// `Unschedulable` condition message of a pending pod.
    public var computeWait: String?
    /// The last run was killed for going over `compute.mem_limit`. Kubernetes: termination reason
    /// `OOMKilled`.
    public var lastExitOutOfMemory: Bool
    /// Runs killed for going over `compute.mem_limit` so far.
    public var outOfMemoryKills: Int
    /// The last run became ready before it exited (a crash while serving, not while loading).
    public var lastRunWasReady: Bool
    /// `compute.mem_limit` as written (`256Mi`), when set.
    public var memoryLimit: String?
    /// While the replica's processes use more memory than its `compute.mem` request (a
    /// reservation, not a limit), how much: e.g. `uses 180Mi, over its compute.mem request of
    /// 100Mi`; nil otherwise. Kubernetes: a container's working set above its memory request.
    public var memoryOverRequest: String?
    /// The last run was killed because its predictor was still loading past the start-up budget
    /// (Kubernetes: a failed startup probe).
    public var lastExitInitTimedOut: Bool
    /// Failed model reloads the ready replica reports, as messages for the API's status.
    public var modelProblems: [String]

    /// Creates a snapshot; everything after `consecutiveFailures` defaults to "nothing to report".
    public init(
        document: ReplicaDocument, lastExitCode: Int32?, lastOutputLine: String?, consecutiveFailures: Int,
        computeWait: String? = nil, lastExitOutOfMemory: Bool = false, outOfMemoryKills: Int = 0,
        lastRunWasReady: Bool = false, memoryLimit: String? = nil, lastExitInitTimedOut: Bool = false,
        modelProblems: [String] = [], memoryOverRequest: String? = nil
    ) {
        self.memoryOverRequest = memoryOverRequest
        self.document = document
        self.lastExitCode = lastExitCode
        self.lastOutputLine = lastOutputLine
        self.consecutiveFailures = consecutiveFailures
        self.computeWait = computeWait
        self.lastExitOutOfMemory = lastExitOutOfMemory
        self.outOfMemoryKills = outOfMemoryKills
        self.lastRunWasReady = lastRunWasReady
        self.memoryLimit = memoryLimit
        self.lastExitInitTimedOut = lastExitInitTimedOut
        self.modelProblems = modelProblems
    }

    /// Failed while loading: the predictor's `__init__` raised (exit code 3), was still running
    /// past the start-up budget, or the replica was killed for memory before it became ready.
    /// Reported at once, not after a crash loop.
    public var failedToLoad: Bool {
        initFailed || (lastExitOutOfMemory && !lastRunWasReady)
    }

    /// `error (init failed)`: exit code 3, or killed past the start-up budget.
    public var initFailed: Bool {
        lastExitCode == 3 || lastExitInitTimedOut
    }
}
