import Testing

@testable import TernGateway

@Suite struct AdmissionStateTests {
    /// A state with `replicas` (id, slots), added in order with nothing queued.
    private func state(max: Int, _ replicas: [(String, Int)]) -> AdmissionState {
        var state = AdmissionState(maxReplicaConcurrency: max)
        for (id, slots) in replicas { _ = state.addReplica(id: id, slots: slots) }
        return state
    }

    private func admit(_ state: inout AdmissionState, times: Int) -> [AdmissionState.Decision] {
        (0..<times).map { _ in state.admit() }
    }

    @Test func requestGoesToTheReplicaWithTheLowestFractionOfBusySlots() {
        // a has 4 slots, b has 2: after one request each, a is 1/4 busy and b 1/2, so a wins
        // even though both run one request.
        var admission = state(max: 100, [("a", 4), ("b", 2)])
        #expect(
            admit(&admission, times: 3) == [
                .dispatch(replicaID: "a"), .dispatch(replicaID: "b"), .dispatch(replicaID: "a"),
            ])
        #expect(admission.busy(replicaID: "a") == 2)
        #expect(admission.busy(replicaID: "b") == 1)
    }

    @Test func lessLoadedReplicaWinsOverTheRotationCursor() {
        var admission = state(max: 100, [("a", 2), ("b", 2), ("c", 2)])
        #expect(admit(&admission, times: 4).count == 4)  // a, b, c, a: the cursor now points at b
        #expect(admission.release(replicaID: "c") == false)
        // b is 1/2 busy, c is idle: c gets the request although the cursor points at b.
        #expect(admission.admit() == .dispatch(replicaID: "c"))
    }

    @Test func equallyLoadedReplicasTakeTurns() {
        var admission = state(max: 100, [("a", 10), ("b", 10), ("c", 10)])
        #expect(
            admit(&admission, times: 6) == ["a", "b", "c", "a", "b", "c"].map { .dispatch(replicaID: $0) })
    }

    @Test func requestIsQueuedWhenEverySlotIsBusy() {
        var admission = state(max: 100, [("a", 1), ("b", 2)])
        #expect(admit(&admission, times: 3).allSatisfy { $0 != .enqueue })
        #expect(admission.admit() == .enqueue)
        #expect(admission.admit() == .enqueue)
        #expect(admission.queued == 2)
        #expect(admission.inFlight == 5)
    }

    @Test func exactlyMaxReplicaConcurrencyRequestsAreAdmittedPerReplica() {
        // C18: max_replica_concurrency 4, one replica with one slot.
        var admission = state(max: 4, [("r", 1)])
        #expect(
            admit(&admission, times: 4) == [.dispatch(replicaID: "r"), .enqueue, .enqueue, .enqueue])
        #expect(admission.admit() == .reject(.overloaded(limit: 4)))
        #expect(admission.admit() == .reject(.overloaded(limit: 4)))
        #expect(admission.inFlight == 4)
        #expect(admission.queued == 3)
    }

    @Test func aFinishedRequestMakesRoomForExactlyOneMore() {
        var admission = state(max: 4, [("r", 1)])
        _ = admit(&admission, times: 5)
        #expect(admission.release(replicaID: "r") == true)  // slot passes to a queued request
        #expect(admission.admit() == .enqueue)
        #expect(admission.admit() == .reject(.overloaded(limit: 4)))
    }

    @Test func admissionLimitScalesWithReadyReplicas() {
        var admission = state(max: 2, [("a", 1), ("b", 1)])
        #expect(admission.limit == 4)
        #expect(
            admit(&admission, times: 4) == [.dispatch(replicaID: "a"), .dispatch(replicaID: "b"), .enqueue, .enqueue])
        #expect(admission.admit() == .reject(.overloaded(limit: 4)))

        #expect(admission.beginDrain(replicaID: "b") == 0)
        #expect(admission.limit == 2)
        #expect(admission.admit() == .reject(.overloaded(limit: 2)))
    }

    @Test func requestIsRejectedWhenNoReplicaIsReady() {
        var empty = AdmissionState(maxReplicaConcurrency: 4)
        #expect(empty.admit() == .reject(.noReadyReplica))

        var drained = state(max: 4, [("a", 1)])
        _ = drained.beginDrain(replicaID: "a")
        #expect(drained.admit() == .reject(.noReadyReplica))
    }

    @Test func releaseHandsTheSlotToAQueuedRequest() {
        var admission = state(max: 10, [("r", 1)])
        #expect(admit(&admission, times: 3) == [.dispatch(replicaID: "r"), .enqueue, .enqueue])

        #expect(admission.release(replicaID: "r") == true)
        #expect(admission.queued == 1)
        #expect(admission.busy(replicaID: "r") == 1)

        #expect(admission.release(replicaID: "r") == true)
        #expect(admission.queued == 0)
        #expect(admission.busy(replicaID: "r") == 1)

        #expect(admission.release(replicaID: "r") == false)
        #expect(admission.busy(replicaID: "r") == 0)
        #expect(admission.inFlight == 0)
    }

    @Test func lostSlotShrinksTheReplicaAndHandsNothingOver() {
        var admission = state(max: 10, [("r", 2)])
        #expect(admit(&admission, times: 3) == [.dispatch(replicaID: "r"), .dispatch(replicaID: "r"), .enqueue])

        #expect(admission.release(replicaID: "r", slotLost: true) == false)
        #expect(admission.replicas == [AdmissionState.Replica(id: "r", slots: 1, busy: 1)])
        #expect(admission.queued == 1)

        // The remaining slot still hands over normally.
        #expect(admission.release(replicaID: "r") == true)
        #expect(admission.queued == 0)
        #expect(admission.busy(replicaID: "r") == 1)
    }

    @Test func releaseOnAnUnknownReplicaChangesNothing() {
        var admission = state(max: 10, [("r", 1)])
        _ = admit(&admission, times: 2)
        #expect(admission.release(replicaID: "gone") == false)
        #expect(admission.queued == 1)
        #expect(admission.busy(replicaID: "r") == 1)
    }

    @Test func newReplicaTakesQueuedRequestsUpToItsSlots() {
        var admission = state(max: 10, [("a", 1)])
        _ = admit(&admission, times: 6)  // 1 running, 5 queued
        #expect(admission.addReplica(id: "b", slots: 3) == 3)
        #expect(admission.queued == 2)
        #expect(admission.busy(replicaID: "b") == 3)
        #expect(admission.addReplica(id: "c", slots: 4) == 2)
        #expect(admission.queued == 0)
        #expect(admission.busy(replicaID: "c") == 2)
        #expect(admission.admit() == .dispatch(replicaID: "c"))
    }

    @Test func drainingReplicaGetsNoNewRequests() {
        var admission = state(max: 10, [("a", 2), ("b", 2)])
        #expect(admission.beginDrain(replicaID: "a") == 0)
        #expect(admit(&admission, times: 3) == [.dispatch(replicaID: "b"), .dispatch(replicaID: "b"), .enqueue])
        #expect(admission.busy(replicaID: "a") == 0)
    }

    @Test func drainingReplicaDoesNotPassItsSlotToQueuedRequests() {
        var admission = state(max: 10, [("a", 1), ("b", 1)])
        _ = admit(&admission, times: 3)  // a, b, queued 1
        #expect(admission.beginDrain(replicaID: "a") == 0)
        #expect(admission.release(replicaID: "a") == false)
        #expect(admission.busy(replicaID: "a") == 0)
        #expect(admission.queued == 1)
        #expect(admission.release(replicaID: "b") == true)
        #expect(admission.queued == 0)
    }

    @Test func drainingTheLastAcceptingReplicaStrandsTheQueue() {
        var admission = state(max: 10, [("a", 1), ("b", 1)])
        _ = admit(&admission, times: 5)  // a, b, queued 3
        #expect(admission.beginDrain(replicaID: "a") == 0)
        #expect(admission.queued == 3)
        #expect(admission.beginDrain(replicaID: "b") == 3)
        // The owner fails the stranded requests one by one.
        for _ in 0..<3 { admission.cancelQueued() }
        #expect(admission.queued == 0)
        #expect(admission.inFlight == 2)
        #expect(admission.admit() == .reject(.noReadyReplica))
    }

    @Test func removedReplicaNoLongerCounts() {
        var admission = state(max: 10, [("a", 1), ("b", 1)])
        _ = admit(&admission, times: 2)
        _ = admission.beginDrain(replicaID: "a")
        admission.removeReplica(replicaID: "a")
        #expect(admission.replicas.map(\.id) == ["b"])
        #expect(admission.inFlight == 1)
        #expect(admission.busy(replicaID: "a") == 0)
    }

    @Test func cancelledQueuedRequestFreesItsPlace() {
        var admission = state(max: 2, [("r", 1)])
        #expect(admit(&admission, times: 3) == [.dispatch(replicaID: "r"), .enqueue, .reject(.overloaded(limit: 2))])
        admission.cancelQueued()
        #expect(admission.queued == 0)
        #expect(admission.inFlight == 1)
        #expect(admission.admit() == .enqueue)
        // With no queued request, the release frees the slot.
        admission.cancelQueued()
        #expect(admission.release(replicaID: "r") == false)
        #expect(admission.inFlight == 0)
    }

    @Test func apiScaledToZeroBuffersUpToMaxReplicaConcurrencyAndWakes() {
        var admission = AdmissionState(maxReplicaConcurrency: 3)
        admission.buffersColdStarts = true
        #expect(
            admit(&admission, times: 4) == [
                .enqueueAndWake, .enqueueAndWake, .enqueueAndWake, .reject(.overloaded(limit: 3)),
            ])
        #expect(admission.queued == 3)
        // The cold-started replica takes the buffered requests.
        #expect(admission.addReplica(id: "r", slots: 2) == 2)
        #expect(admission.queued == 1)
        #expect(admission.admit() == .reject(.overloaded(limit: 3)))
    }

    @Test func drainingTheLastReplicaKeepsTheQueueWhenColdStartsAreBuffered() {
        var admission = state(max: 4, [("r", 1)])
        admission.buffersColdStarts = true
        _ = admit(&admission, times: 3)  // 1 running, 2 queued
        #expect(admission.beginDrain(replicaID: "r") == 0)
        #expect(admission.queued == 2)
        #expect(admission.admit() == .enqueueAndWake)
        #expect(admission.release(replicaID: "r") == false)  // a draining replica hands nothing over
        #expect(admission.queued == 3)
    }
}
