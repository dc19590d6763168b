import Testing
import TernTesting

/// TernTesting's ``ManualClock``: sleepers wake when time passes their deadline, never before.
@Suite struct ManualClockTests {
    @Test func aSleeperWakesOnlyOnceTimeReachesItsDeadline() async throws {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(10)) }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(9))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(1))
        #expect(clock.sleeperCount == 0)
        try await sleeper.value
        #expect(clock.now == .zero.advanced(by: .seconds(10)))
    }

    @Test func eachSleeperWakesWhenTimePassesItsOwnDeadline() async throws {
        let clock = ManualClock()
        let sleepers = [3, 1, 2].map { seconds in Task { try await clock.sleep(for: .seconds(seconds)) } }
        await clock.waitForSleepers(3)
        clock.advance(by: .seconds(1))
        #expect(clock.sleeperCount == 2)
        clock.advance(by: .milliseconds(1500))
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(5))
        #expect(clock.sleeperCount == 0)
        for sleeper in sleepers { try await sleeper.value }
    }

    @Test func aDeadlineInThePastReturnsAtOnce() async throws {
        let clock = ManualClock()
        clock.advance(by: .seconds(1))
        try await clock.sleep(until: .zero.advanced(by: .milliseconds(500)))
        try await clock.sleep(for: .zero)
        #expect(clock.sleeperCount == 0)
    }

    @Test func aCancelledSleeperThrows() async {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(60)) }
        await clock.waitForSleepers(1)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func timeNeverMovesBack() {
        let clock = ManualClock()
        clock.advance(by: .seconds(2))
        clock.advance(by: .seconds(-1))
        clock.advance(to: .zero)
        #expect(clock.now.offset == .seconds(2))
    }
}
