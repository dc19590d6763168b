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

/// What a run's end does to the backoff: the count resets after a long enough ready period.
@Suite struct RestartAfterExitTests {
    private let policy = RestartPolicy()

    @Test func aReplicaReadyForTheResetPeriodRestartsAfterTheInitialDelay() {
        let failures = policy.consecutiveFailures(5, afterRunReadyFor: .seconds(60))
        #expect(failures == 0)
        #expect(policy.delay(afterConsecutiveFailures: failures + 1) == .seconds(1))
    }

    @Test(arguments: [nil, Duration.zero, .seconds(59) + .milliseconds(999)])
    func aShorterReadyPeriodContinuesTheBackoff(readyFor: Duration?) {
        let failures = policy.consecutiveFailures(5, afterRunReadyFor: readyFor)
        #expect(failures == 5)
        #expect(policy.delay(afterConsecutiveFailures: failures + 1) == .seconds(32))
    }
}

/// How a run's end is named (``ReplicaExit``), for `tern get` and the API's status.
@Suite struct ReplicaExitTests {
    private func exit(
        _ termination: ReplicaExit.Termination, killReason: (text: String, initTimedOut: Bool)? = nil,
        outOfMemory: Bool = false
    ) -> ReplicaExit {
        ReplicaExit(termination, killReason: killReason, outOfMemory: outOfMemory, memoryLimit: "256Mi")
    }

    @Test func exitCodesAndSignalsNameTheExit() {
        #expect(exit(.exited(3)) == ReplicaExit(
            description: "exited with code 3 (the predictor failed to load)", exitCode: 3, initTimedOut: false,
            outOfMemory: false))
        #expect(exit(.exited(1)).description == "exited with code 1")
        #expect(exit(.exited(1)).exitCode == 1)
        #expect(exit(.signaled(15)).description == "killed by signal 15")
        #expect(exit(.signaled(15)).exitCode == nil)
    }

    @Test func aKillByTheRunnerIsNamedByItsReason() {
        let timedOut = exit(.signaled(9), killReason: ("init timed out after 300 s", true))
        #expect(timedOut == ReplicaExit(
            description: "init timed out after 300 s", exitCode: nil, initTimedOut: true, outOfMemory: false))
        let hung = exit(.exited(137), killReason: ("not answering health checks", false))
        #expect(hung.description == "not answering health checks")
        #expect(!hung.initTimedOut)
    }

    @Test func aReasonDoesNotNameARunThatWasNotKilled() {
        // The replica exited by itself before the runner's SIGKILL landed.
        let exited = exit(.exited(3), killReason: ("init timed out after 300 s", true))
        #expect(exited.description == "exited with code 3 (the predictor failed to load)")
        #expect(!exited.initTimedOut)
    }

    @Test func outOfMemoryNamesTheExitWhateverElseHappened() {
        let oom = exit(.signaled(9), killReason: ("init timed out after 300 s", true), outOfMemory: true)
        #expect(oom == ReplicaExit(
            description: "killed: out of memory (limit 256Mi)", exitCode: nil, initTimedOut: false, outOfMemory: true))
    }

    @Test(arguments: [
        (ReplicaExit.Termination.signaled(9), true), (.exited(137), true), (.signaled(15), false), (.exited(0), false),
        (.exited(9), false),
    ])
    func sigkillDirectOrReportedByTheMainProcessIsAKill(termination: ReplicaExit.Termination, killed: Bool) {
        #expect(ReplicaExit.wasKilled(termination) == killed)
    }
}
