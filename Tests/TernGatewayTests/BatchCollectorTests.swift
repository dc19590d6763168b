import Testing

@testable import TernGateway

/// ``BatchCollector`` driven with made-up instants: no clock, no sleeping.
@Suite struct BatchCollectorTests {
    private let start = ContinuousClock.now
    private func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    /// A collector of strings with `max` items per batch and an interval of `interval` ms.
    private func collector(max: Int, interval: Int = 100) -> BatchCollector<String, ContinuousClock.Instant> {
        BatchCollector(maxBatchSize: max, interval: .milliseconds(interval))
    }

    @Test func aFullBatchIsFlushedAtOnceInArrivalOrder() {
        var batcher = collector(max: 3)
        #expect(batcher.add("a", now: at(0)) == .armTimer(deadline: at(100)))
        #expect(batcher.add("b", now: at(10)) == .wait(until: at(100)))
        #expect(batcher.add("c", now: at(20)) == .flush(["a", "b", "c"]))
        #expect(batcher.pending.isEmpty)
        #expect(batcher.deadline == nil)
    }

    @Test func aPartialBatchIsFlushedOnceTheIntervalSinceItsFirstItemPassed() {
        var batcher = collector(max: 8, interval: 50)
        _ = batcher.add("a", now: at(0))
        _ = batcher.add("b", now: at(40))
        #expect(batcher.tick(now: at(49)) == nil)
        #expect(batcher.pending == ["a", "b"])
        #expect(batcher.tick(now: at(50)) == ["a", "b"])
        #expect(batcher.tick(now: at(60)) == nil)
    }

    @Test func theDeadlineIsSetByTheFirstItemNotTheLatest() {
        var batcher = collector(max: 8, interval: 100)
        #expect(batcher.add("a", now: at(0)) == .armTimer(deadline: at(100)))
        #expect(batcher.add("b", now: at(90)) == .wait(until: at(100)))
        #expect(batcher.tick(now: at(100)) == ["a", "b"])
    }

    @Test func aBatchNeverExceedsTheMaximumAndTheNextItemOpensANewBatch() {
        var batcher = collector(max: 2, interval: 100)
        var flushed: [[String]] = []
        var armed: [ContinuousClock.Instant] = []
        for (index, item) in ["a", "b", "c", "d", "e"].enumerated() {
            switch batcher.add(item, now: at(index)) {
            case .flush(let batch): flushed.append(batch)
            case .armTimer(let deadline): armed.append(deadline)
            case .wait: break
            }
        }
        #expect(flushed == [["a", "b"], ["c", "d"]])
        #expect(armed == [at(100), at(102), at(104)])
        #expect(batcher.tick(now: at(104)) == ["e"])
    }

    @Test func aStaleTimerDoesNotFlushTheNextBatchEarly() {
        var batcher = collector(max: 2, interval: 100)
        _ = batcher.add("a", now: at(0))  // timer for 100
        _ = batcher.add("b", now: at(10))  // full: flushed
        #expect(batcher.add("c", now: at(20)) == .armTimer(deadline: at(120)))
        #expect(batcher.tick(now: at(100)) == nil)  // the first batch's timer fires
        #expect(batcher.tick(now: at(120)) == ["c"])
    }

    @Test func aTickWithNoOpenBatchFlushesNothing() {
        var batcher = collector(max: 4)
        #expect(batcher.tick(now: at(1_000)) == nil)
        #expect(batcher.flushNow() == nil)
    }

    @Test func aBatchSizeOfOneSendsEveryItemAlone() {
        var batcher = collector(max: 1)
        #expect(batcher.add("a", now: at(0)) == .flush(["a"]))
        #expect(batcher.add("b", now: at(0)) == .flush(["b"]))
        #expect(batcher.deadline == nil)
    }

    @Test func flushNowEmptiesTheOpenBatchBeforeItsDeadline() {
        var batcher = collector(max: 4)
        _ = batcher.add("a", now: at(0))
        _ = batcher.add("b", now: at(1))
        #expect(batcher.flushNow() == ["a", "b"])
        #expect(batcher.add("c", now: at(2)) == .armTimer(deadline: at(102)))
    }
}

/// The admission side of batching: requests count one by one, a batch takes one slot.
@Suite struct BatchAdmissionTests {
    private func state(max: Int, slots: Int) -> AdmissionState {
        var state = AdmissionState(maxReplicaConcurrency: max)
        _ = state.addReplica(id: "r", slots: slots)
        return state
    }

    @Test func batchedRequestsCountAsInFlightAndAreLimitedLikeOthers() {
        var admission = state(max: 3, slots: 1)
        #expect(admission.admitBatched() == .collect)
        #expect(admission.admitBatched() == .collect)
        #expect(admission.admitBatched() == .collect)
        #expect(admission.admitBatched() == .reject(.overloaded(limit: 3)))
        #expect(admission.inFlight == 3)
        #expect(admission.busy(replicaID: "r") == 0)  // collecting takes no slot
    }

    @Test func aBatchTakesOneSlotAndItsRequestsStillCountOneByOne() {
        var admission = state(max: 10, slots: 1)
        for _ in 0..<4 { #expect(admission.admitBatched() == .collect) }
        #expect(admission.admitBatch() == .dispatch(replicaID: "r"))
        #expect(admission.busy(replicaID: "r") == 1)
        #expect(admission.inFlight == 4)
        #expect(admission.release(replicaID: "r") == false)
        admission.finishBatch(requests: 4)
        #expect(admission.inFlight == 0)
        #expect(admission.busy(replicaID: "r") == 0)
    }

    @Test func aBatchWaitsForASlotAndGetsItHandedOver() {
        var admission = state(max: 10, slots: 1)
        for _ in 0..<3 { _ = admission.admitBatched() }
        #expect(admission.admitBatch() == .dispatch(replicaID: "r"))  // batch of 2
        #expect(admission.admitBatch() == .enqueue)  // batch of 1
        #expect(admission.queued == 1)
        #expect(admission.inFlight == 3)
        #expect(admission.release(replicaID: "r") == true)  // the slot passes to the queued batch
        admission.finishBatch(requests: 2)
        #expect(admission.inFlight == 1)
        #expect(admission.release(replicaID: "r") == false)
        admission.finishBatch(requests: 1)
        #expect(admission.inFlight == 0)
    }

    @Test func withoutAReadyReplicaABatchIsRefusedOrWaitsForAColdStart() {
        var drained = state(max: 10, slots: 1)
        _ = drained.admitBatched()
        _ = drained.beginDrain(replicaID: "r")
        #expect(drained.admitBatch() == .reject(.noReadyReplica))
        drained.finishBatch(requests: 1)
        #expect(drained.inFlight == 0)

        var cold = AdmissionState(maxReplicaConcurrency: 2)
        cold.buffersColdStarts = true
        #expect(cold.admitBatched() == .collectAndWake)
        #expect(cold.admitBatched() == .collectAndWake)
        #expect(cold.admitBatched() == .reject(.overloaded(limit: 2)))
        #expect(cold.admitBatch() == .enqueueAndWake)
        #expect(cold.addReplica(id: "r", slots: 1) == 1)  // the new replica takes the batch
        #expect(cold.inFlight == 2)
    }

    @Test func withoutAReadyReplicaABatchedRequestIsRefused() {
        var empty = AdmissionState(maxReplicaConcurrency: 4)
        #expect(empty.admitBatched() == .reject(.noReadyReplica))
    }
}
