import TernCore

/// The gateway's admission and balancing decisions for one API, as a pure state machine.
///
/// Every replica has a fixed number of concurrency slots (`processes_per_replica ×
/// threads_per_process`). A request is dispatched to the least-loaded replica with a free slot,
/// queued in the gateway when all slots are busy, and rejected once the API's in-flight requests
/// (running plus queued) reach `max_replica_concurrency × ready replicas` (Cortex's per-replica
/// limit, `pkg/proxy/breaker.go`, applied at the gateway). The owner (``APIRouter``) performs the
/// I/O that each decision asks for; this type has no clock, no I/O and no concurrency.
///
/// Public (the type, its decisions and the calls of the request path) only for bench/micro;
/// see ReplicaFrame.swift.
public struct AdmissionState: Sendable {
    /// The load of one replica.
    struct Replica: Sendable, Equatable {
        var id: String
        /// Concurrency slots (processes × threads).
        var slots: Int
        /// Requests running on it.
        var busy: Int = 0
        /// False once draining: it takes no new requests.
        var accepting: Bool = true
        /// It takes requests and has a slot free.
        var hasFreeSlot: Bool { accepting && busy < slots }
    }

    /// What to do with a new request.
    public enum Decision: Equatable, Sendable {
        /// Send it now to this replica (a slot has been reserved).
        case dispatch(replicaID: String)
        /// Keep it waiting in the gateway queue.
        case enqueue
        /// Keep it waiting, and wake the API: it has no replica and may scale from zero.
        case enqueueAndWake
        /// Refuse it (503).
        case reject(RejectReason)
    }

    /// What to do with a new request of an API with server-side batching.
    enum BatchedDecision: Equatable, Sendable {
        /// Collect it into the open batch (it now counts as in flight).
        case collect
        /// Collect it, and wake the API: it has no replica and may scale from zero.
        case collectAndWake
        /// Refuse it (503).
        case reject(RejectReason)
    }

    /// Why a request was refused.
    public enum RejectReason: Equatable, Sendable {
        /// No replica is ready.
        case noReadyReplica
        /// `limit` requests are already in flight.
        case overloaded(limit: Int)
    }

    /// `max_replica_concurrency`: in-flight requests allowed per ready replica.
    var maxReplicaConcurrency: Int
    /// True for APIs with `min_replicas: 0`: without a ready replica, up to
    /// `max_replica_concurrency` requests wait for a cold start instead of being rejected.
    var buffersColdStarts = false
    private(set) var replicas: [Replica] = []
    /// Requests waiting for a slot.
    private(set) var queued = 0
    /// Rotates ties between equally loaded replicas.
    private var cursor = 0
    /// Requests admitted by ``admitBatched()`` and not yet finished: collecting, or in a batch
    /// that waits for a slot or runs. Each counts as one request in flight.
    private(set) var batchedRequests = 0
    /// Batches admitted by ``admitBatch()`` and not yet finished. Each holds (or waits for) one
    /// slot, so it is counted in `queued` or a replica's `busy`, but its requests count through
    /// ``batchedRequests`` instead.
    private(set) var batches = 0

    /// No replicas yet; `maxReplicaConcurrency` is the API's `max_replica_concurrency`.
    public init(maxReplicaConcurrency: Int) {
        self.maxReplicaConcurrency = maxReplicaConcurrency
    }

    /// Replicas taking new requests.
    var readyReplicas: Int { replicas.reduce(0) { $0 + ($1.accepting ? 1 : 0) } }
    /// Running plus queued requests (with server-side batching: requests, not batches).
    var inFlight: Int { replicas.reduce(queued) { $0 + $1.busy } - batches + batchedRequests }
    /// The admission limit now: `max_replica_concurrency × ready replicas`.
    var limit: Int { maxReplicaConcurrency.multipliedSaturating(by: readyReplicas) }
    /// True when a ready replica has a free slot, so that a request or a batch admitted now would
    /// be dispatched rather than queued (``BatchCollector``'s `slotFree`).
    var hasFreeSlot: Bool { replicas.contains(where: \.hasFreeSlot) }

    /// Decides what to do with a new request.
    public mutating func admit() -> Decision {
        let ready = readyReplicas
        guard ready > 0 else {
            guard buffersColdStarts else { return .reject(.noReadyReplica) }
            guard queued < maxReplicaConcurrency else { return .reject(.overloaded(limit: maxReplicaConcurrency)) }
            queued += 1
            return .enqueueAndWake
        }
        let limit = maxReplicaConcurrency.multipliedSaturating(by: ready)
        guard inFlight < limit else { return .reject(.overloaded(limit: limit)) }
        if let index = leastLoadedWithFreeSlot() {
            replicas[index].busy += 1
            return .dispatch(replicaID: replicas[index].id)
        }
        queued += 1
        return .enqueue
    }

    /// Decides what to do with a new request of an API with server-side batching. The same
    /// limits as ``admit()`` apply, but no slot is reserved: the batch the request joins gets
    /// one through ``admitBatch()``.
    mutating func admitBatched() -> BatchedDecision {
        let ready = readyReplicas
        guard ready > 0 else {
            guard buffersColdStarts else { return .reject(.noReadyReplica) }
            guard inFlight < maxReplicaConcurrency else { return .reject(.overloaded(limit: maxReplicaConcurrency)) }
            batchedRequests += 1
            return .collectAndWake
        }
        let limit = maxReplicaConcurrency.multipliedSaturating(by: ready)
        guard inFlight < limit else { return .reject(.overloaded(limit: limit)) }
        batchedRequests += 1
        return .collect
    }

    /// A batch of requests admitted by ``admitBatched()`` is ready to send: reserves one slot
    /// for the whole batch, on the least-loaded replica with a free slot, or queues the batch.
    /// Never `.reject(.overloaded)`: its requests were admitted already. Whatever the decision,
    /// the owner calls ``finishBatch(requests:)`` once when the batch is answered or failed.
    mutating func admitBatch() -> Decision {
        if let replicaID = admitBatchOnFreeSlot() { return .dispatch(replicaID: replicaID) }
        batches += 1
        guard readyReplicas > 0 else {
            guard buffersColdStarts else { return .reject(.noReadyReplica) }
            queued += 1
            return .enqueueAndWake
        }
        queued += 1
        return .enqueue
    }

    /// ``admitBatch()`` when a slot is free: reserves it, on the least-loaded replica with one,
    /// for a batch of requests admitted by ``admitBatched()`` and returns that replica; nil, with
    /// nothing changed, when every slot is busy (the batch then keeps collecting, or queues with
    /// ``admitBatch()``). The owner calls ``finishBatch(requests:)`` once when the batch is over.
    mutating func admitBatchOnFreeSlot() -> String? {
        guard let index = leastLoadedWithFreeSlot() else { return nil }
        batches += 1
        replicas[index].busy += 1
        return replicas[index].id
    }

    /// A batch of `requests` requests is over (answered, failed or refused); its slot, if it
    /// had one, is returned separately with ``release(replicaID:slotLost:)``.
    mutating func finishBatch(requests: Int) {
        precondition(batches > 0 && batchedRequests >= requests)
        batches -= 1
        batchedRequests -= requests
    }

    /// A queued request gave up (client gone or timed out) before getting a slot.
    mutating func cancelQueued() {
        precondition(queued > 0)
        queued -= 1
    }

    /// A request on `replicaID` finished. Returns true when its slot passes straight to the
    /// oldest queued request (the replica stays busy); false when the slot is now free.
    /// - Parameter slotLost: the slot's connection broke, so the replica has one slot fewer and
    ///   nothing is handed over.
    public mutating func release(replicaID: String, slotLost: Bool = false) -> Bool {
        guard let index = replicas.firstIndex(where: { $0.id == replicaID }) else { return false }
        if slotLost {
            replicas[index].slots = max(0, replicas[index].slots - 1)
        } else if queued > 0 && replicas[index].accepting {
            queued -= 1
            return true
        }
        replicas[index].busy -= 1
        return false
    }

    /// Free slots of `replicaID` were lost (their connection closed).
    mutating func removeFreeSlots(replicaID: String, count: Int) {
        guard count > 0, let index = replicas.firstIndex(where: { $0.id == replicaID }) else { return }
        replicas[index].slots = max(0, replicas[index].slots - count)
    }

    /// Adds a ready replica with `slots` slots. Returns how many queued requests it takes at once.
    public mutating func addReplica(id: String, slots: Int) -> Int {
        let taken = min(queued, slots)
        replicas.append(Replica(id: id, slots: slots, busy: taken))
        queued -= taken
        return taken
    }

    /// Stops sending new requests to `replicaID`. Returns the number of queued requests that must
    /// be failed because no accepting replica is left (none when the API buffers cold starts).
    mutating func beginDrain(replicaID: String) -> Int {
        guard let index = replicas.firstIndex(where: { $0.id == replicaID }) else { return 0 }
        replicas[index].accepting = false
        if readyReplicas == 0 && !buffersColdStarts {
            return queued  // the owner fails them, calling cancelQueued() for each
        }
        return 0
    }

    /// Requests still running on `replicaID` (0 for an unknown replica).
    func busy(replicaID: String) -> Int {
        replicas.first(where: { $0.id == replicaID })?.busy ?? 0
    }

    /// Forgets `replicaID` entirely (after it drained).
    mutating func removeReplica(replicaID: String) {
        replicas.removeAll { $0.id == replicaID }
    }

    private mutating func leastLoadedWithFreeSlot() -> Int? {
        var best: Int?
        var bestLoad = Double.infinity
        let count = replicas.count
        for step in 0..<count {
            let index = (cursor + step) % count
            let replica = replicas[index]
            guard replica.hasFreeSlot else { continue }
            let load = Double(replica.busy) / Double(replica.slots)
            if load < bestLoad {
                best = index
                bestLoad = load
            }
        }
        if let best { cursor = (best + 1) % max(count, 1) }
        return best
    }
}
