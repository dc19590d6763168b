import NIOCore
import NIOPosix
import Synchronization
import TernCore

/// One request collected for server-side batching, and who gets its answer.
struct BatchEntry: Sendable {
    /// What the request's item of the `predict_batch` frame needs.
    var request: BatchRequest
    /// Resumed exactly once: with the request's own answer, or with the error that failed its
    /// batch (``GatewayRejection``, or a connection error when the replica went away).
    var waiter: Waiter<BatchAnswer>
}

/// Server-side batching (`predictor.server_side_batching`): requests are admitted one by one
/// as usual (``AdmissionState/admitBatched()``), collected by ``BatchCollector`` until the
/// batch is full or `batch_interval` has passed since its first request, and each batch is
/// sent as one `predict_batch` frame on one slot (``AdmissionState/admitBatch()``). Each
/// request then gets its own answer back.
///
/// Admission and collection are one decision under the router's lock; the interval's timer is
/// an event-loop timer and a batch goes out and comes back in NIO callbacks, so neither path
/// (the Hummingbird task's ``submit(_:)`` nor the fast path's ``collect(_:callback:)``) costs a
/// task or an actor hop per request or per batch.
extension APIRouter {
    /// Admits a request, collects it into the open batch and waits for its own answer.
    /// - Throws: ``GatewayRejection`` (503) when admission refuses it or its batch cannot get
    ///   a slot; the connection's error when the replica went away while running the batch.
    func submit(_ request: BatchRequest) async throws -> BatchAnswer {
        try await withCheckedThrowingContinuation { continuation in
            switch admitAndCollect(BatchEntry(request: request, waiter: .task(continuation)), mayWake: true) {
            case .collected: break
            case .refused(let reason): continuation.resume(throwing: rejection(reason))
            case .needsNormalPath: preconditionFailure("only the fast path defers a request")
            }
        }
    }

    /// The fast path's ``submit(_:)``: collects `request`, whose answer (or failure) `callback`
    /// gets once, from any thread, and returns true; returns false with nothing changed when the
    /// request needs the normal path: admission would refuse it or wake the API from zero, or the
    /// API has a `request_timeout` (whose timer is the task path's).
    func collect(_ request: BatchRequest, callback: @escaping @Sendable (Result<BatchAnswer, any Error>) -> Void) -> Bool {
        switch admitAndCollect(BatchEntry(request: request, waiter: .callback(callback)), mayWake: false) {
        case .collected: true
        case .refused, .needsNormalPath: false
        }
    }

    private enum Collection {
        case collected
        case refused(AdmissionState.RejectReason)
        /// `mayWake` was false and the request would have been refused, woken the API or needed
        /// a `request_timeout` timer.
        case needsNormalPath
    }

    /// Admits `entry` and adds it to the open batch under one lock, then does what the decision
    /// asks for: wake the API, arm the batch's timer, send a full batch.
    private func admitAndCollect(_ entry: BatchEntry, mayWake: Bool) -> Collection {
        let now = ContinuousClock.now
        var wakes = false
        var timer: ContinuousClock.Instant?
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
            switch state.collector!.add(entry, now: now) {
            case .armTimer(let deadline): timer = deadline
            case .wait: break
            case .flush(let batch): full = batch
            }
            return .collected
        }
        if wakes { Task { [wake, apiName] in await wake(apiName) } }
        if let timer { armTimer(for: timer) }
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
    /// again; one armed for a batch since flushed full finds another deadline, or none, and stops.
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
        let leased = lease(id: id, near: Self.currentLoop, { $0.admitBatch() }, waiter: .callback { result in
            self.run(batch, on: result)
        })
        if let leased { run(batch, on: leased.mapError { $0 }) }
    }

    /// Runs `batch` on the slot it got, or fails every request of it with the error that ended
    /// its wait for one.
    private func run(_ batch: [BatchEntry], on leased: Result<SlotLease, any Error>) {
        let lease: SlotLease
        switch leased {
        case .success(let slot):
            lease = slot
        case .failure(let error):
            dispatch.withLock { $0.admission.finishBatch(requests: batch.count) }
            for entry in batch { entry.waiter.resume(.failure(error)) }
            return
        }
        let (frame, count) = PredictBatch.frame(
            batch.map(\.request), acceptsQuery: lease.connection.acceptsQuery,
            acceptsHeaders: lease.connection.acceptsHeaders)
        let sent = batch.prefix(count)
        if count < batch.count { send(Array(batch.dropFirst(count))) }
        let reply = lease.connection.channel.eventLoop.makePromise(of: ReplicaFrame.self)
        lease.connection.send(frame, promise: reply)
        reply.futureResult.whenComplete { result in
            switch result {
            case .success(let frame):
                self.release(lease, broken: false, batchOf: count)
                for (entry, answer) in zip(sent, PredictBatch.answers(to: frame, count: count)) {
                    entry.waiter.resume(.success(answer))
                }
            case .failure(let error):
                self.release(lease, broken: true, batchOf: count)
                for entry in sent { entry.waiter.resume(.failure(error)) }
            }
        }
    }

    /// Returns a batch's slot and ends the batch of `requests` requests.
    private func release(_ lease: SlotLease, broken: Bool, batchOf requests: Int) {
        let loop = Self.currentLoop
        let handover = dispatch.withLock { state in
            defer { state.admission.finishBatch(requests: requests) }
            return state.release(lease, broken: broken, near: loop)
        }
        if let handover { handover.waiter.resume(.success(handover.lease)) }
    }
}
