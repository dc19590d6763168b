import DequeModule
import NIOCore
import NIOPosix
import Synchronization
import TernCore

/// A reserved concurrency slot: the replica and the connection a request runs on.
struct SlotLease: Sendable {
    var replicaID: String
    var connection: ReplicaConnection
    /// The API's `networking.request_timeout` when the slot was leased (nil for none).
    var requestTimeout: Duration?
}

/// Why the gateway refused or failed a request before a replica answered it.
struct GatewayRejection: Error, Sendable {
    /// HTTP status.
    var status: Int
    /// Error kind for the JSON body.
    var kind: String
    /// Message for the JSON body.
    var message: String
    /// Seconds for `Retry-After`, when the client should retry.
    var retryAfter: Int?
}

/// Routing state of one API: its replicas' slot connections, the admission state machine and
/// the queue of requests waiting for a slot. All I/O decisions come from ``AdmissionState``
/// (and, with server-side batching, from ``BatchCollector``; see `APIRouter+Batching.swift`).
actor APIRouter {
    /// The API's name (for messages).
    let apiName: String
    /// `networking.request_timeout`: limit on queueing plus prediction, nil for none.
    private(set) var requestTimeout: Duration?
    /// Longest wait for a replica when scaling from zero (see ``GatewayConfiguration``).
    private let coldStartTimeout: Duration
    /// Called (without waiting) when a request arrives while the API has no replica.
    let wake: @Sendable (String) async -> Void
    var admission: AdmissionState
    /// `predictor.server_side_batching`, nil when off.
    private(set) var batching: BatchingSpec?
    /// The open batch; nil when batching is off.
    var collector: BatchCollector<BatchEntry, ContinuousClock.Instant>?
    /// Mirrors `batching != nil` for ``batchesRequests``, readable without entering the actor.
    private let batchingFlag: Atomic<Bool>
    private var slots: [String: ReplicaSlots] = [:]
    private var waiters: Deque<(id: UInt64, continuation: CheckedContinuation<SlotLease, any Error>)> = []
    private var nextWaiterID: UInt64 = 0

    init(spec: APISpec, coldStartTimeout: Duration, wake: @escaping @Sendable (String) async -> Void) {
        self.apiName = spec.name
        self.coldStartTimeout = coldStartTimeout
        self.wake = wake
        self.admission = AdmissionState(maxReplicaConcurrency: spec.autoscaling.maxReplicaConcurrency)
        self.admission.buffersColdStarts = spec.autoscaling.minReplicas == 0
        self.requestTimeout = spec.networking.requestTimeoutMs.map { .milliseconds($0) }
        let batching = spec.predictor?.serverSideBatching
        self.batching = batching
        self.collector = Self.collector(for: batching)
        self.batchingFlag = Atomic(batching != nil)
    }

    /// True when the API batches requests (``submit(_:)``) rather than leasing a slot per
    /// request (``acquire()``). Read without entering the actor, so the other path stays fast.
    nonisolated var batchesRequests: Bool { batchingFlag.load(ordering: .relaxed) }

    /// Requests running plus queued.
    var inFlight: Int { admission.inFlight }
    /// Replicas taking new requests.
    var readyReplicas: Int { admission.readyReplicas }

    /// Applies the admission settings of `spec` (after a redeploy).
    func configure(_ spec: APISpec) {
        admission.maxReplicaConcurrency = spec.autoscaling.maxReplicaConcurrency
        admission.buffersColdStarts = spec.autoscaling.minReplicas == 0
        requestTimeout = spec.networking.requestTimeoutMs.map { .milliseconds($0) }
        let newBatching = spec.predictor?.serverSideBatching
        if newBatching != batching {
            if let open = collector?.flushNow() { send(open) }
            setBatching(newBatching)
        }
    }

    private func setBatching(_ spec: BatchingSpec?) {
        batching = spec
        collector = Self.collector(for: spec)
        batchingFlag.store(spec != nil, ordering: .relaxed)
    }

    private static func collector(for spec: BatchingSpec?) -> BatchCollector<BatchEntry, ContinuousClock.Instant>? {
        spec.map { BatchCollector(maxBatchSize: $0.maxBatchSize, interval: .milliseconds($0.batchIntervalMs)) }
    }

    /// Reserves a slot, waiting in the queue when all are busy.
    /// - Throws: ``GatewayRejection`` (503) when no replica is ready or the API is at its limit;
    ///   `CancellationError` when the waiting task is cancelled.
    func acquire() async throws -> SlotLease {
        try await lease(for: admission.admit())
    }

    /// Performs an admission decision: hands out the reserved slot, throws the rejection, or
    /// queues the caller for a slot.
    func lease(for decision: AdmissionState.Decision) async throws -> SlotLease {
        switch decision {
        case .dispatch(let replicaID):
            return SlotLease(replicaID: replicaID, connection: slots[replicaID]!.take(near: Self.currentLoop)!, requestTimeout: requestTimeout)
        case .reject(let reason):
            throw rejection(reason)
        case .enqueue:
            return try await wait(
                timeout: requestTimeout,
                expiry: GatewayRejection(
                    status: 503, kind: "queue_timeout",
                    message: "the request waited in the queue of API \(apiName) past its request_timeout; retry later",
                    retryAfter: 1))
        case .enqueueAndWake:
            Task { [wake, apiName] in await wake(apiName) }
            return try await wait(
                timeout: coldStartTimeout,
                expiry: GatewayRejection(
                    status: 503, kind: "cold_start_timeout",
                    message: "API \(apiName) had no ready replica within the cold-start limit of \(coldStartTimeout); check `tern logs \(apiName)`",
                    retryAfter: 5))
        }
    }

    /// The event loop running the caller, when it is one of NIO's (it is for `tern serve`, whose
    /// global executor is the NIO event-loop group): a task resumes on the loop that completes
    /// its promise, so a slot on this loop keeps the request, the replica exchange and the
    /// response write on one thread (optimisation log item 7 in docs/benchmarks.md).
    private static var currentLoop: ObjectIdentifier? {
        MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
    }

    /// The 503 for a request that admission refused.
    func rejection(_ reason: AdmissionState.RejectReason) -> GatewayRejection {
        switch reason {
        case .noReadyReplica:
            GatewayRejection(
                status: 503, kind: "no_ready_replica",
                message: "API \(apiName) has no ready replica; check `tern get \(apiName)` and `tern logs \(apiName)`",
                retryAfter: 1)
        case .overloaded(let limit):
            GatewayRejection(
                status: 503, kind: "overloaded",
                message: "API \(apiName) has \(limit) requests in flight (max_replica_concurrency × ready replicas); retry later",
                retryAfter: 1)
        }
    }

    /// Queues the caller until a slot is handed over, `timeout` passes (throws `expiry`), or the
    /// task is cancelled.
    private func wait(timeout: Duration?, expiry: GatewayRejection) async throws -> SlotLease {
        let id = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiters.append((id, continuation))
                if let timeout {
                    Task {
                        try? await Task.sleep(for: timeout)
                        self.removeWaiter(id, error: expiry)
                    }
                }
            }
        } onCancel: {
            Task { await self.removeWaiter(id, error: CancellationError()) }
        }
    }

    /// Returns a slot. With `broken`, the connection is dropped instead of reused.
    func release(_ lease: SlotLease, broken: Bool) {
        if broken {
            // Every slot of the broken connection is lost: the one leased here, and any still free.
            _ = admission.release(replicaID: lease.replicaID, slotLost: true)
            if let freeLost = slots[lease.replicaID]?.drop(lease.connection) {
                admission.removeFreeSlots(replicaID: lease.replicaID, count: freeLost)
            }
            return
        }
        slots[lease.replicaID]?.giveBack(lease.connection)
        if admission.release(replicaID: lease.replicaID), let connection = slots[lease.replicaID]?.take(near: Self.currentLoop) {
            let waiter = waiters.removeFirst()
            waiter.continuation.resume(
                returning: SlotLease(replicaID: lease.replicaID, connection: connection, requestTimeout: requestTimeout))
        }
    }

    /// Puts a replica's open connections into balancing and hands queued requests to it.
    ///
    /// Without a `request_timeout`, each connection gives ``ReplicaConnection/pipelineDepth``
    /// slots (a request staged behind the running one cannot expire); with one, a single slot,
    /// so that requests wait in the gateway, where a queue timeout can still answer 503.
    func attach(replicaID: String, connections: [ReplicaConnection]) {
        var replicaSlots = ReplicaSlots(
            connections: connections, depth: requestTimeout == nil ? ReplicaConnection.pipelineDepth : 1)
        let taken = admission.addReplica(id: replicaID, slots: replicaSlots.capacity)
        for _ in 0..<taken {
            let waiter = waiters.removeFirst()
            waiter.continuation.resume(
                returning: SlotLease(replicaID: replicaID, connection: replicaSlots.take()!, requestTimeout: requestTimeout))
        }
        slots[replicaID] = replicaSlots
    }

    /// Takes a replica out of balancing, waits up to `grace` for its running requests, then
    /// closes its connections.
    func detach(replicaID: String, grace: Duration) async {
        guard slots[replicaID] != nil else { return }
        let stranded = admission.beginDrain(replicaID: replicaID)
        failWaiters(count: stranded)
        let deadline = ContinuousClock.now + grace
        while admission.busy(replicaID: replicaID) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let connections = slots.removeValue(forKey: replicaID)?.connections ?? []
        admission.removeReplica(replicaID: replicaID)
        for connection in connections { await connection.close() }
    }

    /// Fails every queued request (the API was deleted).
    /// Closes the router for good (the API was deleted): queued requests get 503 at once, running
    /// ones may finish within `grace`, then every connection closes.
    func close(grace: Duration) async {
        admission.buffersColdStarts = false
        if let open = collector?.flushNow() { send(open) }  // now rather than at its deadline
        failWaiters(count: waiters.count)
        await withTaskGroup(of: Void.self) { group in
            for id in slots.keys {
                group.addTask { await self.detach(replicaID: id, grace: grace) }
            }
        }
    }

    /// A replica failed to start: without a ready replica, requests held for it get 503 now
    /// rather than at the cold-start limit (C16).
    func failHeldRequests(because message: String) {
        guard admission.readyReplicas == 0, !waiters.isEmpty else { return }
        let rejection = GatewayRejection(
            status: 503, kind: "replica_failed_to_start",
            message: "API \(apiName) could not start a replica: \(message); see `tern logs \(apiName)`", retryAfter: 5)
        while let waiter = waiters.popFirst() {
            admission.cancelQueued()
            waiter.continuation.resume(throwing: rejection)
        }
    }

    private func failWaiters(count: Int) {
        for _ in 0..<min(count, waiters.count) {
            let waiter = waiters.removeFirst()
            admission.cancelQueued()
            waiter.continuation.resume(
                throwing: GatewayRejection(
                    status: 503, kind: "no_ready_replica",
                    message: "API \(apiName) lost its last ready replica while the request waited; retry",
                    retryAfter: 1))
        }
    }

    /// Fails a still-queued waiter (timeout or cancellation); a waiter already served is left alone.
    private func removeWaiter(_ id: UInt64, error: any Error) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        admission.cancelQueued()
        waiter.continuation.resume(throwing: error)
    }
}
