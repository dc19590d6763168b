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
    var kind: ErrorKind
    /// Message for the JSON body.
    var message: String
    /// Seconds for `Retry-After`, when the client should retry.
    var retryAfter: Int?
}

/// The dispatch state of one API, guarded by ``APIRouter``'s lock: admission, the replicas'
/// slot connections and the requests queued for a slot.
struct DispatchState {
    var admission: AdmissionState
    /// `networking.request_timeout` (nil for none), copied into each lease.
    var requestTimeout: Duration?
    var slots: [String: ReplicaSlots] = [:]
    var waiters: Deque<(id: UInt64, waiter: SlotWaiter)> = []
    var nextWaiterID: UInt64 = 0
    /// `predictor.server_side_batching`, nil when off.
    var batching: BatchingSpec?
    /// The open batch (see `APIRouter+Batching.swift`); nil when batching is off.
    var collector: BatchCollector<BatchEntry, ContinuousClock.Instant>?

    /// True when a request may be admitted without the normal path's help: a replica is ready,
    /// there is room under the limit (so admission neither refuses it nor wakes the API) and no
    /// `request_timeout` needs a timer task. The fast path's precondition, checked under the lock.
    var admitsWithoutTask: Bool {
        requestTimeout == nil && admission.readyReplicas > 0 && admission.inFlight < admission.limit
    }

    /// A new waiter id.
    mutating func waiterID() -> UInt64 {
        defer { nextWaiterID += 1 }
        return nextWaiterID
    }

    /// Reserves a slot of `replicaID` (admission already counted it busy), on a connection of the
    /// caller's event loop where the balance allows.
    mutating func slot(of replicaID: String, near loop: ObjectIdentifier?) -> SlotLease {
        SlotLease(replicaID: replicaID, connection: slots[replicaID]!.take(near: loop)!, requestTimeout: requestTimeout)
    }

    /// Reserves a free slot, if there is one, for a batch the collector decided to send now
    /// (``AdmissionState/admitBatchOnFreeSlot()``); nil, with nothing changed, when every slot is
    /// busy.
    mutating func freeSlotForBatch(near loop: ObjectIdentifier?) -> SlotLease? {
        admission.admitBatchOnFreeSlot().map { slot(of: $0, near: loop) }
    }

    /// With `batch_wait: adaptive`, takes the open batch and a free slot for it when one is free
    /// (called where slots free up: a release with nothing queued for the slot, a replica
    /// attached); nil when no batch is open, no slot is free or the wait is `full_interval`.
    mutating func openBatchOnFreeSlot(near loop: ObjectIdentifier?) -> BatchOnSlot? {
        guard admission.hasFreeSlot, let batch = collector?.slotFreed() else { return nil }
        return BatchOnSlot(batch: batch, lease: freeSlotForBatch(near: loop)!)
    }

    /// Returns a slot; when a request is queued, hands it the slot instead and returns that waiter
    /// with its lease (the caller resumes it outside the lock).
    mutating func release(
        _ lease: SlotLease, broken: Bool, near loop: ObjectIdentifier?
    ) -> (waiter: SlotWaiter, lease: SlotLease)? {
        if broken {
            // Every slot of the broken connection is lost: the one leased here, and any still free.
            _ = admission.release(replicaID: lease.replicaID, slotLost: true)
            if let freeLost = slots[lease.replicaID]?.drop(lease.connection) {
                admission.removeFreeSlots(replicaID: lease.replicaID, count: freeLost)
            }
            return nil
        }
        slots[lease.replicaID]?.giveBack(lease.connection)
        if admission.release(replicaID: lease.replicaID), let connection = slots[lease.replicaID]?.take(near: loop) {
            let waiter = waiters.removeFirst()
            return (waiter.waiter, SlotLease(replicaID: lease.replicaID, connection: connection, requestTimeout: requestTimeout))
        }
        return nil
    }
}

/// Who gets a value that is not ready yet — a slot for a queued request, or the answer of a
/// request collected into a batch: a callback of the request's ``ReplicaExchange`` (which has no
/// task to suspend). Called exactly once, from any thread, outside the lock.
typealias Waiter<Value: Sendable> = @Sendable (Result<Value, any Error>) -> Void

/// A request (or a batch) queued for a slot.
typealias SlotWaiter = Waiter<SlotLease>

/// A batch and the slot reserved for it under the router's lock, to send outside it
/// (``APIRouter/run(_:on:)``).
struct BatchOnSlot: Sendable {
    /// The batch's requests, in arrival order.
    var batch: [BatchEntry]
    /// The slot admission reserved for the whole batch.
    var lease: SlotLease
}

/// Routing state of one API: its replicas' slot connections, the admission state machine, the
/// queue of requests waiting for a slot and, with server-side batching, the open batch. All I/O
/// decisions come from ``AdmissionState`` and ``BatchCollector``; see `APIRouter+Batching.swift`.
///
/// The state (``DispatchState``) sits behind one lock rather than in an actor, so that the
/// gateway's synchronous fast path (``PredictFastPath``) can lease and return a slot, or collect
/// a request into a batch, on its event loop without a task; every decision that queues or
/// collects a request is taken in the same critical section as the queueing, so a release never
/// finds the queue short. Waiters are resumed outside the lock.
final class APIRouter: Sendable {
    /// The API's name (for messages).
    let apiName: String
    /// Longest wait for a replica when scaling from zero (see ``GatewayConfiguration``).
    private let coldStartTimeout: Duration
    /// Called (without waiting) when a request arrives while the API has no replica.
    let wake: @Sendable (String) async -> Void
    /// Admission, slots, queue and open batch; see the type's documentation.
    let dispatch: Mutex<DispatchState>
    /// Mirrors `batching != nil` for ``batchesRequests``, readable without the lock.
    private let batchingFlag: Atomic<Bool>
    /// Where batch timers run when the caller is not on an event loop.
    let eventLoopGroup: any EventLoopGroup
    /// Told of every batch sent (``ExchangeObserver/batchSent(api:size:)``).
    let observers: [any ExchangeObserver]

    /// Creates the router of `spec`'s API, with no replica yet.
    /// - Parameters:
    ///   - coldStartTimeout: longest wait of a request for the first replica (scale from zero).
    ///   - wake: asks the autoscaler for a replica (called without waiting).
    ///   - eventLoopGroup: runs `batch_interval` timers armed off an event loop.
    ///   - observers: told of every batch sent (the gateway's ``GatewayConfiguration/observers``).
    init(
        spec: APISpec, coldStartTimeout: Duration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        observers: [any ExchangeObserver] = [],
        wake: @escaping @Sendable (String) async -> Void
    ) {
        self.observers = observers
        self.apiName = spec.name
        self.coldStartTimeout = coldStartTimeout
        self.wake = wake
        self.eventLoopGroup = eventLoopGroup
        var admission = AdmissionState(maxReplicaConcurrency: spec.autoscaling.maxReplicaConcurrency)
        admission.buffersColdStarts = spec.autoscaling.minReplicas == 0
        let batching = spec.predictor?.serverSideBatching
        self.dispatch = Mutex(DispatchState(
            admission: admission, requestTimeout: spec.networking.requestTimeoutMs.map { .milliseconds($0) },
            batching: batching, collector: Self.collector(for: batching)))
        self.batchingFlag = Atomic(batching != nil)
        self.monitoringSpec = Mutex(spec.monitoring)
        self.monitoringFlag = Atomic(spec.monitoring != nil)
        self.keys = APIKeyGate(auth: spec.networking.auth)
    }

    /// Who may call the API (`networking.auth`); checked before a replica is used.
    let keys: APIKeyGate

    /// True when the API batches requests (``submit(_:)``) rather than leasing a slot per
    /// request (``acquire()``). Read without the lock, so the other path stays fast.
    var batchesRequests: Bool { batchingFlag.load(ordering: .relaxed) }

    /// `networking.request_timeout`: limit on queueing plus prediction, nil for none.
    var requestTimeout: Duration? { dispatch.withLock { $0.requestTimeout } }
    /// Requests running plus queued.
    var inFlight: Int { dispatch.withLock { $0.admission.inFlight } }
    /// Replicas taking new requests.
    var readyReplicas: Int { dispatch.withLock { $0.admission.readyReplicas } }
    /// Requests running on each attached replica (its busy slots), by replica id.
    var busyByReplica: [String: Int] {
        dispatch.withLock { state in Dictionary(state.admission.replicas.map { ($0.id, $0.busy) }) { $1 } }
    }

    /// `monitoring`, nil when the API has none; read only when ``monitorsPredictions`` says so.
    private let monitoringSpec: Mutex<MonitoringSpec?>
    /// Mirrors `monitoring != nil`, readable without a lock: an API without `monitoring` pays one
    /// relaxed load per request for prediction monitoring (``ReplicaExchange``'s hook).
    private let monitoringFlag: Atomic<Bool>
    /// Whether the API has `monitoring`.
    var monitorsPredictions: Bool { monitoringFlag.load(ordering: .relaxed) }
    /// The API's `monitoring`, nil when it has none.
    var monitoring: MonitoringSpec? { monitorsPredictions ? monitoringSpec.withLock { $0 } : nil }

    /// Applies the admission and batching settings of `spec` (after a redeploy); a batch still
    /// open when batching changes is sent at once.
    func configure(_ spec: APISpec) {
        let newBatching = spec.predictor?.serverSideBatching
        let open = dispatch.withLock { state -> [BatchEntry]? in
            state.admission.maxReplicaConcurrency = spec.autoscaling.maxReplicaConcurrency
            state.admission.buffersColdStarts = spec.autoscaling.minReplicas == 0
            state.requestTimeout = spec.networking.requestTimeoutMs.map { .milliseconds($0) }
            guard newBatching != state.batching else { return nil }
            let open = state.collector?.flushNow()
            state.batching = newBatching
            state.collector = Self.collector(for: newBatching)
            return open
        }
        batchingFlag.store(newBatching != nil, ordering: .relaxed)
        monitoringSpec.withLock { $0 = spec.monitoring }
        monitoringFlag.store(spec.monitoring != nil, ordering: .relaxed)
        keys.configure(spec.networking.auth)
        if let open { send(open) }
    }

    private static func collector(for spec: BatchingSpec?) -> BatchCollector<BatchEntry, ContinuousClock.Instant>? {
        spec.map {
            BatchCollector(maxBatchSize: $0.maxBatchSize, interval: .milliseconds($0.batchIntervalMs), wait: $0.batchWait)
        }
    }

    /// What ``leaseOrQueue(near:callback:)`` did.
    enum FastLease {
        /// A slot was free: the request has it.
        case leased(SlotLease)
        /// The request is queued under this id; `callback` gets the slot (or the failure).
        case queued(id: UInt64)
    }

    /// The fast path's admission: a free slot now, or a place in the queue with `callback`
    /// (called once, from any thread, with the slot or the failure that ended the wait); nil,
    /// with nothing changed, when the request needs the normal path: admission would refuse it
    /// or wake the API from zero, or the API has a `request_timeout` (whose timer is the task
    /// path's). Admission and queueing are one decision under the lock, as in ``lease(_:)``.
    func leaseOrQueue(
        near loop: ObjectIdentifier?, callback: @escaping @Sendable (Result<SlotLease, any Error>) -> Void
    ) -> FastLease? {
        dispatch.withLock { state in
            guard state.admitsWithoutTask else { return nil }
            switch state.admission.admit() {
            case .dispatch(let replicaID):
                return .leased(state.slot(of: replicaID, near: loop))
            case .enqueue:
                let id = state.waiterID()
                state.waiters.append((id, callback))
                return .queued(id: id)
            case .enqueueAndWake, .reject:
                return nil  // ruled out by the guard (a ready replica, room under the limit)
            }
        }
    }

    /// Takes a queued request out of the queue (its client went away); its waiter gets
    /// `CancellationError`. Nothing happens if it already has a slot.
    func cancelWaiting(_ id: UInt64) {
        removeWaiter(id, error: CancellationError())
    }

    /// A new id for a request that may wait in the queue (``lease(id:near:_:waiter:)``,
    /// ``cancelWaiting(_:)``).
    func newWaiterID() -> UInt64 {
        dispatch.withLock { $0.waiterID() }
    }

    /// Takes the admission decision `decide` under the lock and acts on it in the same critical
    /// section: the reserved slot, the rejection, or nil when `waiter` was queued under `id` (its
    /// `request_timeout` or cold-start timer armed); then `waiter` is called once, with a slot or
    /// the failure that ended the wait (``GatewayRejection`` 503: queued past `request_timeout`
    /// or the cold-start limit; `CancellationError` from ``cancelWaiting(_:)``).
    func lease(
        id: UInt64, near loop: ObjectIdentifier?, _ decide: (inout AdmissionState) -> AdmissionState.Decision,
        waiter: @escaping SlotWaiter
    ) -> Result<SlotLease, GatewayRejection>? {
        enum Outcome {
            case leased(SlotLease)
            case rejected(AdmissionState.RejectReason)
            case queued(wake: Bool, timeout: Duration?)
        }
        let outcome: Outcome = dispatch.withLock { state in
            switch decide(&state.admission) {
            case .dispatch(let replicaID):
                return .leased(state.slot(of: replicaID, near: loop))
            case .reject(let reason):
                return .rejected(reason)
            case .enqueue:
                state.waiters.append((id, waiter))
                return .queued(wake: false, timeout: state.requestTimeout)
            case .enqueueAndWake:
                state.waiters.append((id, waiter))
                return .queued(wake: true, timeout: coldStartTimeout)
            }
        }
        switch outcome {
        case .leased(let lease):
            return .success(lease)
        case .rejected(let reason):
            return .failure(rejection(reason))
        case .queued(let wakes, let timeout):
            if wakes { Task { [wake, apiName] in await wake(apiName) } }
            if let timeout {
                let expiry = wakes
                    ? GatewayRejection(
                        status: 503, kind: .coldStartTimeout,
                        message: "API \(apiName) had no ready replica within the cold-start limit of \(coldStartTimeout); check `tern logs \(apiName)`",
                        retryAfter: 5)
                    : GatewayRejection(
                        status: 503, kind: .queueTimeout,
                        message: "the request waited in the queue of API \(apiName) past its request_timeout; retry later",
                        retryAfter: 1)
                Task {
                    try? await Task.sleep(for: timeout)
                    self.removeWaiter(id, error: expiry)
                }
            }
            return nil
        }
    }

    /// The event loop running the caller, when it is one of NIO's (it is for `tern serve`, whose
    /// global executor is the NIO event-loop group): a task resumes on the loop that completes
    /// its promise, so a slot on this loop keeps the request, the replica exchange and the
    /// response write on one thread (optimisation log item 7 in docs/benchmarks.md).
    static var currentLoop: ObjectIdentifier? {
        MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
    }

    /// The 503 for a request that admission refused.
    func rejection(_ reason: AdmissionState.RejectReason) -> GatewayRejection {
        switch reason {
        case .noReadyReplica:
            GatewayRejection(
                status: 503, kind: .noReadyReplica,
                message: "API \(apiName) has no ready replica; check `tern get \(apiName)` and `tern logs \(apiName)`",
                retryAfter: 1)
        case .overloaded(let limit):
            GatewayRejection(
                status: 503, kind: .overloaded,
                message: "API \(apiName) has \(limit) requests in flight (max_replica_concurrency × ready replicas); retry later",
                retryAfter: 1)
        }
    }

    /// Returns a slot. With `broken`, the connection is dropped instead of reused; `batchOf` ends
    /// the batch of that many requests the slot carried (0: a single request). The slot goes to
    /// the oldest request or batch queued for one; with nothing queued and `batch_wait: adaptive`,
    /// to the open batch, sent at once (decided in the same critical section). Synchronous: the
    /// replica connection's event loop calls it (``ReplicaExchange/send(_:on:router:batchOf:completion:)``).
    func release(_ lease: SlotLease, broken: Bool, batchOf requests: Int = 0) {
        let loop = Self.currentLoop
        let (handover, open) = dispatch.withLock { state -> ((waiter: SlotWaiter, lease: SlotLease)?, BatchOnSlot?) in
            defer { if requests > 0 { state.admission.finishBatch(requests: requests) } }
            if let handover = state.release(lease, broken: broken, near: loop) { return (handover, nil) }
            return (nil, state.openBatchOnFreeSlot(near: loop))
        }
        if let handover { handover.waiter(.success(handover.lease)) }
        if let open { run(open.batch, on: .success(open.lease)) }
    }

    /// Puts a replica's open connections into balancing and hands queued requests to it (and,
    /// with `batch_wait: adaptive`, the open batch to a slot still free).
    ///
    /// Without a `request_timeout`, each connection gives ``ReplicaConnection/pipelineDepth``
    /// slots (a request staged behind the running one cannot expire); with one, a single slot,
    /// so that requests wait in the gateway, where a queue timeout can still answer 503.
    func attach(replicaID: String, connections: [ReplicaConnection]) {
        let (handovers, open) = dispatch.withLock { state in
            var replicaSlots = ReplicaSlots(
                connections: connections, depth: state.requestTimeout == nil ? ReplicaConnection.pipelineDepth : 1)
            let taken = state.admission.addReplica(id: replicaID, slots: replicaSlots.capacity)
            var handovers: [(SlotWaiter, SlotLease)] = []
            for _ in 0..<taken {
                let waiter = state.waiters.removeFirst()
                handovers.append((waiter.waiter, SlotLease(
                    replicaID: replicaID, connection: replicaSlots.take()!, requestTimeout: state.requestTimeout)))
            }
            state.slots[replicaID] = replicaSlots
            return (handovers, state.openBatchOnFreeSlot(near: nil))
        }
        for (waiter, lease) in handovers { waiter(.success(lease)) }
        if let open { run(open.batch, on: .success(open.lease)) }
    }

    /// Takes a replica out of balancing, waits up to `grace` for its running requests, then
    /// closes its connections.
    func detach(replicaID: String, grace: Duration) async {
        guard let stranded = dispatch.withLock({ state in
            state.slots[replicaID] == nil ? nil : state.admission.beginDrain(replicaID: replicaID)
        }) else { return }
        failWaiters(count: stranded)
        let deadline = ContinuousClock.now + grace
        while dispatch.withLock({ $0.admission.busy(replicaID: replicaID) }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let connections = dispatch.withLock { state in
            state.admission.removeReplica(replicaID: replicaID)
            return state.slots.removeValue(forKey: replicaID)?.connections ?? []
        }
        for connection in connections { await connection.close() }
    }

    /// Closes the router for good (the API was deleted): queued requests get 503 at once, running
    /// ones may finish within `grace`, then every connection closes.
    func close(grace: Duration) async {
        let (queued, replicaIDs, open) = dispatch.withLock { state in
            state.admission.buffersColdStarts = false
            return (state.waiters.count, Array(state.slots.keys), state.collector?.flushNow())
        }
        if let open { send(open) }  // now rather than at its deadline
        failWaiters(count: queued)
        await withTaskGroup(of: Void.self) { group in
            for id in replicaIDs {
                group.addTask { await self.detach(replicaID: id, grace: grace) }
            }
        }
    }

    /// A replica failed to start: without a ready replica, requests held for it get 503 now
    /// rather than at the cold-start limit (C16).
    func failHeldRequests(because message: String) {
        let held = dispatch.withLock { state -> [SlotWaiter] in
            guard state.admission.readyReplicas == 0, !state.waiters.isEmpty else { return [] }
            var held: [SlotWaiter] = []
            while let waiter = state.waiters.popFirst() {
                state.admission.cancelQueued()
                held.append(waiter.waiter)
            }
            return held
        }
        let rejection = GatewayRejection(
            status: 503, kind: .replicaFailedToStart,
            message: "API \(apiName) could not start a replica: \(message); see `tern logs \(apiName)`", retryAfter: 5)
        for waiter in held { waiter(.failure(rejection)) }
    }

    private func failWaiters(count: Int) {
        let failed = dispatch.withLock { state -> [SlotWaiter] in
            var failed: [SlotWaiter] = []
            for _ in 0..<min(count, state.waiters.count) {
                failed.append(state.waiters.removeFirst().waiter)
                state.admission.cancelQueued()
            }
            return failed
        }
        for waiter in failed {
            waiter(.failure(GatewayRejection(
                status: 503, kind: .noReadyReplica,
                message: "API \(apiName) lost its last ready replica while the request waited; retry",
                retryAfter: 1)))
        }
    }

    /// Fails a still-queued waiter (timeout or cancellation); a waiter already served is left alone.
    private func removeWaiter(_ id: UInt64, error: any Error) {
        let removed = dispatch.withLock { state -> SlotWaiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            state.admission.cancelQueued()
            return state.waiters.remove(at: index).waiter
        }
        removed?(.failure(error))
    }
}
