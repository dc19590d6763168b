import HTTPTypes
import NIOCore
import NIOPosix
import Synchronization
import TernCore

/// One request collected for server-side batching: what its item of a `predict_batch` frame
/// needs.
struct BatchRequest: Sendable {
    /// The id the gateway gave the request (`X-Request-ID`).
    var requestID: String
    /// The endpoint path, e.g. `/iris`.
    var path: String
    /// The request's `Content-Type`, if any.
    var contentType: String?
    /// The raw query string, if any (sent only when `predict` declares `query_params`).
    var query: String?
    /// The request's header fields (sent only when `predict` declares `headers`).
    var headers: HTTPFields
    /// The request body, untouched.
    var body: ByteBuffer
}

/// What one request of a batch gets back from the replica.
enum BatchAnswer: Sendable, Equatable {
    /// The replica's answer for this request: HTTP status, content type and body.
    case reply(status: Int, contentType: String, body: ByteBuffer)
    /// An error for this request (or for its whole batch), rendered in Tern's JSON error shape.
    case failure(status: Int, kind: String, message: String)
}

/// One request collected for server-side batching, and who gets its answer.
struct BatchEntry: Sendable {
    /// What the request's item of the `predict_batch` frame needs.
    var request: BatchRequest
    /// Resumed exactly once: with the request's own answer, or with the error that failed its
    /// batch (``GatewayRejection``, or a connection error when the replica went away).
    var waiter: Waiter<BatchAnswer>
}

/// Server-side batching (`predictor.server_side_batching`): requests are admitted one by one
/// as usual (``AdmissionState/admitBatched()``) and collected by ``BatchCollector``; each batch
/// is sent as one `predict_batch` frame on one slot (``AdmissionState/admitBatch()``), and each
/// request then gets its own answer back. With `batch_wait: adaptive` (the default) a request
/// that finds a slot free and no batch open goes at once, and a slot that frees with nothing
/// queued for it takes the open batch (``APIRouter/release(_:broken:batchOf:)``); otherwise,
/// and always with `full_interval`, a batch goes when it is full or `batch_interval` has passed
/// since its first request.
///
/// Admission and collection are one decision under the router's lock; the interval's timer is
/// an event-loop timer and a batch goes out and comes back in NIO callbacks, so neither path
/// (the Hummingbird responder's nor the fast path's) costs a
/// task or an actor hop per request or per batch. Each request's side is a ``ReplicaExchange``.
extension APIRouter {
    /// What ``collect(_:mayWake:callback:)`` did.
    enum Collection {
        /// The request is in the open batch (or went out in a full one); its callback will be
        /// called.
        case collected
        /// Admission refused it (only with `mayWake`).
        case refused(AdmissionState.RejectReason)
        /// `mayWake` was false and the request would have been refused, woken the API or needed
        /// a `request_timeout` timer: nothing changed.
        case needsNormalPath
    }

    /// Admits `request` and collects it into the open batch under one lock, telling the collector
    /// whether a slot is free and reserving that slot when the collector sends the batch, then
    /// does what the decision asks for: wake the API, arm the batch's timer, send the batch on its
    /// slot (or queue it for one when it is full and every slot is busy). `callback` gets
    /// the request's own answer, or the error that failed its batch (``GatewayRejection``, or a
    /// connection error when the replica went away), once, from any thread.
    ///
    /// With `mayWake` false (the fast path, which has no task for a timer) a request that would be
    /// refused, wake the API from zero or need a `request_timeout` is left alone
    /// (``Collection/needsNormalPath``).
    func collect(
        _ request: BatchRequest, mayWake: Bool, callback: @escaping Waiter<BatchAnswer>
    ) -> Collection {
        let entry = BatchEntry(request: request, waiter: callback)
        let now = ContinuousClock.now
        let loop = Self.currentLoop
        var wakes = false
        var timer: ContinuousClock.Instant?
        var onSlot: BatchOnSlot?
        var full: [BatchEntry]?
        let collection = dispatch.withLock { state -> Collection in
            if !mayWake, !state.admitsWithoutTask { return .needsNormalPath }
            switch state.admission.admitBatched() {
            case .reject(let reason): return .refused(reason)
            case .collectAndWake: wakes = true
            case .collect: break
            }
            guard state.collector != nil else {
                full = [entry]  // batching was switched off by a redeploy meanwhile: a batch of one
                return .collected
            }
            switch state.collector!.add(entry, now: now, slotFree: state.admission.hasFreeSlot) {
            case .armTimer(let deadline): timer = deadline
            case .wait: break
            case .flush(let batch):
                if let lease = state.freeSlotForBatch(near: loop) {
                    onSlot = BatchOnSlot(batch: batch, lease: lease)
                } else {
                    full = batch
                }
            }
            return .collected
        }
        if wakes { Task { [wake, apiName] in await wake(apiName) } }
        if let timer { armTimer(for: timer) }
        if let onSlot { run(onSlot.batch, on: .success(onSlot.lease)) }
        if let full { send(full) }
        return collection
    }

    /// Arms the open batch's timer on the caller's event loop (or one of the group's).
    private func armTimer(for deadline: ContinuousClock.Instant) {
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? eventLoopGroup.next()
        loop.scheduleTask(in: TimeAmount(max(ContinuousClock.now.duration(to: deadline), .zero))) {
            self.flushDue(armedFor: deadline)
        }
    }

    /// Sends the open batch if its interval has passed (called by its timer). A timer that finds
    /// its own batch not yet due (NIO's clock and `ContinuousClock` may differ by a tick) arms
    /// again; one armed for a batch since sent (full, or on a slot that freed) finds another
    /// deadline, or none, and stops.
    private func flushDue(armedFor deadline: ContinuousClock.Instant) {
        let (due, early) = dispatch.withLock { state -> ([BatchEntry]?, Bool) in
            if let batch = state.collector?.tick(now: .now) { return (batch, false) }
            return (nil, state.collector?.deadline == deadline)
        }
        if let due { send(due) } else if early { armTimer(for: deadline) }
    }

    /// Sends `batch`: it leases a slot of its own like a request does (queueing for one when all
    /// are busy), goes out as one frame (the requests that do not fit the frame limits go on as
    /// another batch), and every request is resumed with its answer when the replica replies.
    func send(_ batch: [BatchEntry]) {
        let id = dispatch.withLock { $0.waiterID() }
        let leased = lease(id: id, near: Self.currentLoop, { $0.admitBatch() }, waiter: { result in
            self.run(batch, on: result)
        })
        if let leased { run(batch, on: leased.mapError { $0 }) }
    }

    /// Runs `batch` on the slot it got, or fails every request of it with the error that ended
    /// its wait for one.
    func run(_ batch: [BatchEntry], on leased: Result<SlotLease, any Error>) {
        let lease: SlotLease
        switch leased {
        case .success(let slot):
            lease = slot
        case .failure(let error):
            dispatch.withLock { $0.admission.finishBatch(requests: batch.count) }
            for entry in batch { entry.waiter(.failure(error)) }
            return
        }
        let (frame, count) = PredictBatch.frame(
            batch.map(\.request), acceptsQuery: lease.connection.acceptsQuery,
            acceptsHeaders: lease.connection.acceptsHeaders)
        let sent = batch.prefix(count)
        if count < batch.count { send(Array(batch.dropFirst(count))) }
        for observer in observers { observer.batchSent(api: apiName, size: count) }
        ReplicaExchange.send(frame, on: lease, router: self, batchOf: count) { result in
            switch result {
            case .success(let frame):
                for (entry, answer) in zip(sent, PredictBatch.answers(to: frame, count: count)) {
                    entry.waiter(.success(answer))
                }
            case .failure(let error):
                for entry in sent { entry.waiter(.failure(error)) }
            }
        }
    }
}
