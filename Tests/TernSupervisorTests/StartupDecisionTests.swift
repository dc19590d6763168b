import Synchronization
import Testing
import TernTesting

@testable import TernSupervisor

/// The start-up budget (C31): the decision after each look at the worker sockets, and the poll
/// loop on a manual clock, so 300 s of loading take no time.
@Suite struct StartupDecisionTests {
    private let policy = HealthCheckPolicy(startupTimeout: .seconds(300))

    @Test func socketsWinOverTheBudget() {
        #expect(policy.startupStep(allSocketsExist: true, elapsed: .zero) == .attach)
        #expect(policy.startupStep(allSocketsExist: true, elapsed: .seconds(301)) == .attach)
    }

    @Test func withoutSocketsTheReplicaWaitsUntilTheBudgetIsSpent() {
        #expect(policy.startupStep(allSocketsExist: false, elapsed: .zero) == .wait)
        #expect(policy.startupStep(allSocketsExist: false, elapsed: .seconds(299) + .milliseconds(999)) == .wait)
        #expect(policy.startupStep(allSocketsExist: false, elapsed: .seconds(300)) == .kill)
    }

    @Test func aSlowLoadInsideTheBudgetIsAttachedOnTheNextPoll() async {
        let clock = ManualClock()
        let ready = Flag()
        let wait = Task { await policy.awaitStartup(clock: SupervisorClock(clock)) { ready.isSet } }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(250))  // one poll later, still loading
        await clock.waitForSleepers(1)
        ready.set()
        clock.advance(by: .milliseconds(25))
        #expect(await wait.value == .attach)
        #expect(clock.now.offset == .seconds(250) + .milliseconds(25))
    }

    @Test func aLoadPastTheBudgetIsKilled() async {
        let clock = ManualClock()
        let wait = Task { await policy.awaitStartup(clock: SupervisorClock(clock)) { false } }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(299))
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        #expect(await wait.value == .kill)
    }

    @Test func theWaitEndsWithoutADecisionWhenTheRunEnds() async {
        let clock = ManualClock()
        let wait = Task { await policy.awaitStartup(clock: SupervisorClock(clock)) { false } }
        await clock.waitForSleepers(1)
        wait.cancel()
        #expect(await wait.value == nil)
    }
}

/// A flag that a test sets and the code under test reads from another task.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
}
