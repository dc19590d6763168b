import Testing

@testable import TernSupervisor

@Suite struct RestartPolicyTests {
    @Test func defaultDelayDoublesFromOneSecondAndStopsAtSixty() {
        let policy = RestartPolicy()
        let delays = (1...9).map { policy.delay(afterConsecutiveFailures: $0) }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
    }

    @Test(arguments: [0, -1, Int.min])
    func noFailureMeansNoDelay(failures: Int) {
        #expect(RestartPolicy().delay(afterConsecutiveFailures: failures) == .zero)
    }

    @Test(arguments: [31, 64, 1000, Int.max])
    func manyFailuresStayAtTheCap(failures: Int) {
        #expect(RestartPolicy().delay(afterConsecutiveFailures: failures) == .seconds(60))
    }

    @Test func customPolicyUsesItsOwnStartAndCap() {
        let policy = RestartPolicy(initialDelay: .milliseconds(100), maxDelay: .milliseconds(500))
        let delays = (1...5).map { policy.delay(afterConsecutiveFailures: $0) }
        #expect(delays == [100, 200, 400, 500, 500].map { Duration.milliseconds($0) })
    }
}
