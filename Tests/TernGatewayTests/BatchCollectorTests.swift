import Testing
import TernCore

@testable import TernGateway

/// A suite of ``BatchCollector`` tests: instants counted in milliseconds from `start`, and
/// collectors of strings with the suite's `batch_wait`.
protocol CollectorSuite {
    var start: ContinuousClock.Instant { get }
    static var wait: BatchWait { get }
}

extension CollectorSuite {
    /// `start` + `milliseconds`.
    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }
    /// A collector with `max` items per batch, an interval of `interval` ms and the suite's wait.
    func collector(max: Int, interval: Int = 100) -> BatchCollector<String, ContinuousClock.Instant> {
        BatchCollector(maxBatchSize: max, interval: .milliseconds(interval), wait: Self.wait)
    }
}

/// ``BatchCollector`` with `batch_wait: full_interval` (Cortex's fixed wait), driven with
/// made-up instants: no clock, no sleeping. Free slots do not matter to it, so most calls say
/// none is free; ``aFreeSlotDoesNotSendAFullIntervalBatch()`` checks that they are ignored.
@Suite struct BatchCollectorTests: CollectorSuite {
    let start = ContinuousClock.now
    static let wait = BatchWait.fullInterval

    @Test func aFullBatchIsFlushedAtOnceInArrivalOrder() {
        var batcher = collector(max: 3)
        #expect(batcher.add("a", now: at(0), slotFree: false) == .armTimer(deadline: at(100)))
        #expect(batcher.add("b", now: at(10), slotFree: false) == .wait(until: at(100)))
        #expect(batcher.add("c", now: at(20), slotFree: false) == .flush(["a", "b", "c"]))
        #expect(batcher.pending.isEmpty)
        #expect(batcher.deadline == nil)
    }

    @Test func aPartialBatchIsFlushedOnceTheIntervalSinceItsFirstItemPassed() {
        var batcher = collector(max: 8, interval: 50)
        _ = batcher.add("a", now: at(0), slotFree: false)
        _ = batcher.add("b", now: at(40), slotFree: false)
        #expect(batcher.tick(now: at(49)) == nil)
        #expect(batcher.pending == ["a", "b"])
        #expect(batcher.tick(now: at(50)) == ["a", "b"])
        #expect(batcher.tick(now: at(60)) == nil)
    }

    @Test func theDeadlineIsSetByTheFirstItemNotTheLatest() {
        var batcher = collector(max: 8, interval: 100)
        #expect(batcher.add("a", now: at(0), slotFree: false) == .armTimer(deadline: at(100)))
        #expect(batcher.add("b", now: at(90), slotFree: false) == .wait(until: at(100)))
        #expect(batcher.tick(now: at(100)) == ["a", "b"])
    }

    @Test func aBatchNeverExceedsTheMaximumAndTheNextItemOpensANewBatch() {
        var batcher = collector(max: 2, interval: 100)
        var flushed: [[String]] = []
        var armed: [ContinuousClock.Instant] = []
        for (index, item) in ["a", "b", "c", "d", "e"].enumerated() {
            switch batcher.add(item, now: at(index), slotFree: false) {
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
        _ = batcher.add("a", now: at(0), slotFree: false)  // timer for 100
        _ = batcher.add("b", now: at(10), slotFree: false)  // full: flushed
        #expect(batcher.add("c", now: at(20), slotFree: false) == .armTimer(deadline: at(120)))
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
        #expect(batcher.add("a", now: at(0), slotFree: false) == .flush(["a"]))
        #expect(batcher.add("b", now: at(0), slotFree: false) == .flush(["b"]))
        #expect(batcher.deadline == nil)
    }

    @Test func flushNowEmptiesTheOpenBatchBeforeItsDeadline() {
        var batcher = collector(max: 4)
        _ = batcher.add("a", now: at(0), slotFree: false)
        _ = batcher.add("b", now: at(1), slotFree: false)
        #expect(batcher.flushNow() == ["a", "b"])
        #expect(batcher.add("c", now: at(2), slotFree: false) == .armTimer(deadline: at(102)))
    }

    @Test func aFreeSlotDoesNotSendAFullIntervalBatch() {
        var batcher = collector(max: 4, interval: 100)
        #expect(batcher.add("a", now: at(0), slotFree: true) == .armTimer(deadline: at(100)))
        #expect(batcher.slotFreed() == nil)
        #expect(batcher.add("b", now: at(10), slotFree: true) == .wait(until: at(100)))
        #expect(batcher.pending == ["a", "b"])
        #expect(batcher.tick(now: at(100)) == ["a", "b"])
    }
}

/// ``BatchCollector`` with `batch_wait: adaptive` (the default): a free slot sends the open batch
/// once it has as many items as the batch before it (a lone client's every request at once),
/// batches form while no slot is free, `batch_interval` bounds the wait. Made-up instants.
@Suite struct AdaptiveBatchCollectorTests: CollectorSuite {
    let start = ContinuousClock.now
    static let wait = BatchWait.adaptive

    @Test func anItemThatFindsASlotFreeAndNoBatchOpenIsSentAtOnceAlone() {
        var batcher = collector(max: 16)
        #expect(batcher.add("a", now: at(0), slotFree: true) == .flush(["a"]))
        #expect(batcher.pending.isEmpty)
        #expect(batcher.deadline == nil)  // no timer to arm
        #expect(batcher.add("b", now: at(1), slotFree: true) == .flush(["b"]))
    }

    @Test func itemsCollectWhileNoSlotIsFreeAndGoTogetherWhenOneFrees() {
        var batcher = collector(max: 16, interval: 100)
        #expect(batcher.add("a", now: at(0), slotFree: false) == .armTimer(deadline: at(100)))
        #expect(batcher.add("b", now: at(5), slotFree: false) == .wait(until: at(100)))
        #expect(batcher.add("c", now: at(7), slotFree: false) == .wait(until: at(100)))
        #expect(batcher.slotFreed() == ["a", "b", "c"])  // at 8 ms, long before the deadline
        #expect(batcher.deadline == nil)
        #expect(batcher.tick(now: at(100)) == nil)  // the batch's timer fires and finds nothing
        #expect(batcher.slotFreed() == nil)  // nothing open: the slot stays free
    }

    @Test func aFreeSlotTakesTheOpenBatchTogetherWithTheNewItem() {
        // The owner offers a freed slot to the open batch at once (slotFreed), so this happens
        // only if a slot became free without that, e.g. a replica coming back; nothing waits.
        var batcher = collector(max: 16)
        _ = batcher.add("a", now: at(0), slotFree: false)
        #expect(batcher.add("b", now: at(3), slotFree: true) == .flush(["a", "b"]))
        #expect(batcher.deadline == nil)
    }

    @Test func aFullBatchIsSentWithoutAFreeSlotAndTheNextItemOpensANewOne() {
        var batcher = collector(max: 3, interval: 100)
        _ = batcher.add("a", now: at(0), slotFree: false)
        _ = batcher.add("b", now: at(1), slotFree: false)
        #expect(batcher.add("c", now: at(2), slotFree: false) == .flush(["a", "b", "c"]))  // waits for a slot
        #expect(batcher.add("d", now: at(3), slotFree: false) == .armTimer(deadline: at(103)))
        // The last batch had 3 items: a freed slot waits for as many before it takes the next.
        #expect(batcher.slotFreed() == nil)
        #expect(batcher.add("e", now: at(4), slotFree: true) == .wait(until: at(103)))
        #expect(batcher.add("f", now: at(5), slotFree: true) == .flush(["d", "e", "f"]))
    }

    @Test func aWaveOfClientsAnsweredTogetherIsNotSplitByTheFreeSlot() {
        // 4 closed-loop clients: their batch is answered, all 4 send again within microseconds.
        // Sending the first alone on the free slot would split every wave into 1 + 3.
        var batcher = collector(max: 16, interval: 100)
        #expect(batcher.add("a", now: at(0), slotFree: false) == .armTimer(deadline: at(100)))
        for item in ["b", "c", "d"] { _ = batcher.add(item, now: at(1), slotFree: false) }
        #expect(batcher.slotFreed() == ["a", "b", "c", "d"])  // the slot frees: a batch of 4
        #expect(batcher.expected == 4)
        #expect(batcher.add("a2", now: at(10), slotFree: true) == .armTimer(deadline: at(110)))
        #expect(batcher.add("b2", now: at(10), slotFree: true) == .wait(until: at(110)))
        #expect(batcher.add("c2", now: at(10), slotFree: true) == .wait(until: at(110)))
        #expect(batcher.add("d2", now: at(10), slotFree: true) == .flush(["a2", "b2", "c2", "d2"]))
    }

    @Test func whenTheLoadDropsOneBatchWaitsUpToTheIntervalThenLoneItemsGoAtOnce() {
        var batcher = collector(max: 16, interval: 100)
        for item in ["a", "b", "c"] { _ = batcher.add(item, now: at(0), slotFree: false) }
        #expect(batcher.slotFreed() == ["a", "b", "c"])
        // Now a lone client: its first request waits out the interval once…
        #expect(batcher.add("x", now: at(20), slotFree: true) == .armTimer(deadline: at(120)))
        #expect(batcher.tick(now: at(120)) == ["x"])
        // …then each of its requests is sent at once.
        #expect(batcher.add("y", now: at(121), slotFree: true) == .flush(["y"]))
        #expect(batcher.add("z", now: at(122), slotFree: true) == .flush(["z"]))
    }

    @Test func theIntervalStillSendsABatchAtItsDeadlineWhenNoSlotFrees() {
        var batcher = collector(max: 16, interval: 50)
        _ = batcher.add("a", now: at(0), slotFree: false)
        _ = batcher.add("b", now: at(30), slotFree: false)
        #expect(batcher.tick(now: at(49)) == nil)
        #expect(batcher.tick(now: at(50)) == ["a", "b"])  // then waits in the queue for a slot
        #expect(batcher.add("c", now: at(51), slotFree: false) == .armTimer(deadline: at(101)))
    }

    @Test func aBusyReplicaFormsBatchesFromWhatArrivesWhileItWorks() {
        // One slot, a prediction takes 5 ms, an item arrives every 2 ms from 0 to 38 ms. The
        // owner's part, as APIRouter does it: a batch sent takes the slot for 5 ms or, with the
        // slot busy, queues for it; a freed slot goes to the queue first, then to the open batch.
        var batcher = collector(max: 4, interval: 100)
        var busyUntil: ContinuousClock.Instant?
        var queued: [[String]] = []
        var sent: [[String]] = []
        func send(_ batch: [String], at now: ContinuousClock.Instant) {
            guard busyUntil == nil else { return queued.append(batch) }
            sent.append(batch)
            busyUntil = now + .milliseconds(5)
        }
        for step in 0..<20 {
            let now = at(step * 2)
            if let until = busyUntil, now >= until {
                busyUntil = nil
                if !queued.isEmpty {
                    send(queued.removeFirst(), at: now)
                } else if let batch = batcher.slotFreed() {
                    send(batch, at: now)
                }
            }
            if case .flush(let batch) = batcher.add("\(step)", now: now, slotFree: busyUntil == nil) {
                send(batch, at: now)
            }
        }
        #expect(sent == [["0"], ["1", "2"], ["3", "4", "5"], ["6", "7", "8"], ["9", "10", "11"], ["12", "13", "14"], ["15", "16", "17"]])
        #expect(queued.isEmpty)  // no batch filled up: each went at the size it had when the slot freed
        #expect(batcher.pending == ["18", "19"])
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

    @Test func aFreeSlotIsReservedForABatchOnlyWhenThereIsOne() {
        var admission = state(max: 10, slots: 2)
        for _ in 0..<3 { _ = admission.admitBatched() }
        #expect(admission.hasFreeSlot)
        #expect(admission.admitBatchOnFreeSlot() == "r")  // a batch of 1
        #expect(admission.admitBatchOnFreeSlot() == "r")  // a batch of 2
        #expect(!admission.hasFreeSlot)
        #expect(admission.admitBatchOnFreeSlot() == nil)
        #expect(admission.queued == 0)  // nothing changed: no batch was queued
        #expect(admission.inFlight == 3)
        #expect(admission.release(replicaID: "r") == false)
        admission.finishBatch(requests: 1)
        #expect(admission.hasFreeSlot)
        _ = admission.beginDrain(replicaID: "r")
        #expect(!admission.hasFreeSlot)  // a draining replica takes no batch
        #expect(admission.admitBatchOnFreeSlot() == nil)
    }

    @Test func withoutAReadyReplicaABatchedRequestIsRefused() {
        var empty = AdmissionState(maxReplicaConcurrency: 4)
        #expect(empty.admitBatched() == .reject(.noReadyReplica))
    }
}
