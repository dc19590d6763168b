import Testing

@testable import TernSupervisor

/// Rolling-update steps (the Kubernetes Deployment controller's rules), decided from counts alone.
@Suite struct RolloutPlannerTests {
    private func step(
        desired: Int, old: (total: Int, ready: Int), new: (total: Int, ready: Int), surge: Int, unavailable: Int
    ) -> RolloutPlanner.Step {
        RolloutPlanner.step(
            .init(desired: desired, oldTotal: old.total, oldReady: old.ready, newTotal: new.total, newReady: new.ready),
            maxSurge: surge, maxUnavailable: unavailable)
    }

    @Test func theFirstStepSurgesAndStopsWithinTheBudgets() {
        #expect(step(desired: 4, old: (4, 4), new: (0, 0), surge: 1, unavailable: 1) == .init(startNew: 1, stopOld: 1))
    }

    @Test func withNoUnavailabilityOldReplicasGoOnlyAsNewOnesAreReady() {
        #expect(step(desired: 2, old: (2, 2), new: (0, 0), surge: 1, unavailable: 0) == .init(startNew: 1, stopOld: 0))
        #expect(step(desired: 2, old: (2, 2), new: (1, 0), surge: 1, unavailable: 0) == .init(startNew: 0, stopOld: 0))
        #expect(step(desired: 2, old: (2, 2), new: (1, 1), surge: 1, unavailable: 0) == .init(startNew: 0, stopOld: 1))
        #expect(step(desired: 2, old: (1, 1), new: (1, 1), surge: 1, unavailable: 0) == .init(startNew: 1, stopOld: 0))
    }

    @Test func oldReplicasThatAreNotReadyAlwaysGo() {
        #expect(step(desired: 3, old: (3, 1), new: (0, 0), surge: 0, unavailable: 0) == .init(startNew: 0, stopOld: 2))
    }

    @Test func withoutSurgeReplicasAreReplacedInPlace() {
        #expect(step(desired: 2, old: (2, 2), new: (0, 0), surge: 0, unavailable: 1) == .init(startNew: 0, stopOld: 1))
        #expect(step(desired: 2, old: (1, 1), new: (0, 0), surge: 0, unavailable: 1) == .init(startNew: 1, stopOld: 0))
    }

    @Test func aRevisionThatNeverBecomesReadyIsHeldAtTheAvailabilityFloor() {
        // desired 4, max_surge 1, max_unavailable 1: one old replica goes, then nothing more.
        #expect(step(desired: 4, old: (4, 4), new: (1, 0), surge: 1, unavailable: 1) == .init(startNew: 0, stopOld: 1))
        #expect(step(desired: 4, old: (3, 3), new: (1, 0), surge: 1, unavailable: 1) == .init(startNew: 1, stopOld: 0))
        #expect(step(desired: 4, old: (3, 3), new: (2, 0), surge: 1, unavailable: 1) == .init(startNew: 0, stopOld: 0))
    }

    @Test func hugeBudgetsSaturateInsteadOfTrapping() {
        #expect(
            step(desired: 2, old: (2, 2), new: (0, 0), surge: .max, unavailable: .max) == .init(startNew: 2, stopOld: 2))
    }

    /// Runs a whole rollout, the new replicas becoming ready one step after they start, and
    /// checks the two invariants after every step.
    @Test(arguments: [(1, 0, 1), (1, 1, 0), (3, 1, 1), (4, 0, 1), (5, 2, 0), (10, 3, 2), (10, 10, 10)])
    func aRolloutEndsWithEveryReplicaNewAndKeepsBothBudgets(desired: Int, surge: Int, unavailable: Int) {
        var old = (total: desired, ready: desired)
        var new = (total: 0, ready: 0)
        var steps = 0
        while old.total > 0 || new.ready < desired {
            steps += 1
            guard steps <= 4 * desired + 4 else {
                Issue.record("no progress: old \(old), new \(new)")
                return
            }
            let next = step(desired: desired, old: old, new: new, surge: surge, unavailable: unavailable)
            let notReadyOld = old.total - old.ready
            old.ready -= max(0, next.stopOld - notReadyOld)
            old.total -= next.stopOld
            new.total += next.startNew
            #expect(old.total + new.total <= desired + surge, "surge exceeded: old \(old), new \(new)")
            #expect(old.ready + new.ready >= desired - unavailable, "availability broken: old \(old), new \(new)")
            new.ready = new.total  // the started replicas become ready before the next step
        }
        #expect(new.total == desired)
    }
}
