import NIOCore
import Synchronization
import TernCore

/// One request collected for server-side batching, and how to resume its HTTP handler.
struct BatchEntry: Sendable {
    /// What the request's item of the `predict_batch` frame needs.
    var request: BatchRequest
    /// Resumed exactly once: with the request's own answer, or with the error that failed its
    /// batch (``GatewayRejection``, or a connection error when the replica went away).
    var continuation: CheckedContinuation<BatchAnswer, any Error>
}

/// Server-side batching (`predictor.server_side_batching`): requests are admitted one by one
/// as usual (``AdmissionState/admitBatched()``), collected by ``BatchCollector`` until the
/// batch is full or `batch_interval` has passed since its first request, and each batch is
/// sent as one `predict_batch` frame on one slot (``AdmissionState/admitBatch()``). Each
/// request then gets its own answer back.
extension APIRouter {
    /// Admits a request, collects it into the open batch and waits for its own answer.
    /// - Throws: ``GatewayRejection`` (503) when admission refuses it or its batch cannot get
    ///   a slot; the connection's error when the replica went away while running the batch.
    func submit(_ request: BatchRequest) async throws -> BatchAnswer {
        switch dispatch.withLock({ $0.admission.admitBatched() }) {
        case .reject(let reason):
            throw rejection(reason)
        case .collectAndWake:
            Task { [wake, apiName] in await wake(apiName) }
        case .collect:
            break
        }
        return try await withCheckedThrowingContinuation { continuation in
            collect(BatchEntry(request: request, continuation: continuation))
        }
    }

    private func collect(_ entry: BatchEntry) {
        guard collector != nil else {
            send([entry])  // batching was switched off by a redeploy meanwhile: a batch of one
            return
        }
        switch collector!.add(entry, now: .now) {
        case .armTimer(let deadline):
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                self.flushDue()
            }
        case .wait:
            break
        case .flush(let batch):
            send(batch)
        }
    }

    /// Sends the open batch if its interval has passed (called by its timer).
    private func flushDue() {
        if let batch = collector?.tick(now: .now) { send(batch) }
    }

    /// Sends `batch` in the background: it waits for a slot of its own like a request does.
    func send(_ batch: [BatchEntry]) {
        Task { await self.run(batch) }
    }

    /// Leases a slot for `batch`, sends it as one frame (the requests that do not fit the
    /// frame limits go on as another batch), and resumes every request with its answer.
    private nonisolated func run(_ batch: [BatchEntry]) async {
        let lease: SlotLease
        do {
            lease = try await leaseForBatch()
        } catch {
            finishBatch(requests: batch.count)
            for entry in batch { entry.continuation.resume(throwing: error) }
            return
        }
        let (frame, count) = PredictBatch.frame(
            batch.map(\.request), acceptsQuery: lease.connection.acceptsQuery,
            acceptsHeaders: lease.connection.acceptsHeaders)
        let sent = batch.prefix(count)
        if count < batch.count { await send(Array(batch.dropFirst(count))) }
        do {
            let reply = try await lease.connection.send(frame)
            release(lease, broken: false, batchOf: count)
            for (entry, answer) in zip(sent, PredictBatch.answers(to: reply, count: count)) {
                entry.continuation.resume(returning: answer)
            }
        } catch {
            release(lease, broken: true, batchOf: count)
            for entry in sent { entry.continuation.resume(throwing: error) }
        }
    }

    private nonisolated func leaseForBatch() async throws -> SlotLease {
        try await lease { $0.admitBatch() }
    }

    private nonisolated func finishBatch(requests: Int) {
        dispatch.withLock { $0.admission.finishBatch(requests: requests) }
    }

    /// Returns a batch's slot and ends the batch of `requests` requests.
    private nonisolated func release(_ lease: SlotLease, broken: Bool, batchOf requests: Int) {
        let loop = Self.currentLoop
        let handover = dispatch.withLock { state in
            defer { state.admission.finishBatch(requests: requests) }
            return state.release(lease, broken: broken, near: loop)
        }
        if let handover { handover.waiter.resume(.success(handover.lease)) }
    }
}
