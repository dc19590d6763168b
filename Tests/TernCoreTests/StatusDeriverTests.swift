import TernCore
import Testing

@Suite struct StatusDeriverTests {
    private func replica(
        _ id: String, revision: Int = 2, _ state: ReplicaState, exitCode: Int32? = nil, failures: Int = 0,
        lastLine: String? = nil
    ) -> ReplicaSnapshot {
        let lastExit = exitCode.map { $0 == 3 ? "exit code 3 (predictor failed to load)" : "exit code \($0)" }
        return ReplicaSnapshot(
            document: ReplicaDocument(
                id: id, revision: revision, state: state, pid: state == .backoff ? nil : 100, restarts: failures,
                lastExit: lastExit),
            lastExitCode: exitCode, lastOutputLine: lastLine, consecutiveFailures: failures)
    }

    private func derive(
        requested: Int, _ current: [ReplicaSnapshot], previous: [ReplicaSnapshot] = []
    ) -> BackendAPIStatus {
        StatusDeriver.derive(api: "iris", requested: requested, current: current, previous: previous)
    }

    @Test func apiIsLiveWhenEveryRequestedReplicaIsReady() {
        let status = derive(requested: 2, [replica("a", .ready), replica("b", .ready)])
        #expect(status.status == .live)
        #expect(status.message == nil)
        #expect(status.readyReplicas == 2)
        #expect(status.requestedReplicas == 2)
        #expect(status.replicas.map(\.id) == ["a", "b"])
    }

    @Test func apiIsUpdatingWhileSomeReplicasStillStart() {
        let status = derive(requested: 2, [replica("a", .ready), replica("b", .starting)])
        #expect(status.status == .updating)
        #expect(status.readyReplicas == 1)
    }

    @Test(arguments: [ReplicaState.starting, .backoff, .draining])
    func revisionWithNoReadyReplicaIsNeverLive(state: ReplicaState) {
        let status = derive(requested: 1, [replica("a", state)])
        #expect(status.status == .updating)
        #expect(status.readyReplicas == 0)
    }

    @Test func noRequestedReplicaIsScaledToZeroNotLive() {
        let status = derive(requested: 0, [])
        #expect(status.status == .scaledToZero)
        #expect(status.readyReplicas == 0)
    }

    @Test func initFailureIsAnErrorAtOnceWithTheLastOutputLine() throws {
        let status = derive(
            requested: 1,
            [
                replica(
                    "iris-1", .backoff, exitCode: 3, failures: 1,
                    lastLine: "ModuleNotFoundError: No module named 'sklearn'")
            ])
        #expect(status.status == .errorInitFailed)
        #expect(status.status.rawValue == "error (init failed)")
        let message = try #require(status.message)
        #expect(message.contains("iris-1"))
        #expect(message.contains("ModuleNotFoundError: No module named 'sklearn'"))
        #expect(message.contains("`tern logs iris`"))
        #expect(!message.contains("older revision"))
        #expect(status.readyReplicas == 0)
    }

    @Test func initFailureWithoutOutputStillPointsAtTheLogs() throws {
        let status = derive(requested: 1, [replica("iris-1", .backoff, exitCode: 3, failures: 1)])
        #expect(status.status == .errorInitFailed)
        #expect(try #require(status.message).contains("`tern logs iris`"))
    }

    @Test func singleCrashOfAReplicaIsARestartInProgress() {
        let status = derive(
            requested: 2, [replica("a", .ready), replica("b", .backoff, exitCode: 1, failures: 1, lastLine: "Killed")])
        #expect(status.status == .updating)
        #expect(status.message == nil)
    }

    @Test(arguments: [(1, APIStatus.updating), (2, .updating), (3, .error), (7, .error)])
    func repeatedCrashesBecomeAnErrorAtTheThird(failures: Int, expected: APIStatus) {
        let status = derive(
            requested: 1, [replica("a", .backoff, exitCode: 139, failures: failures, lastLine: "Segmentation fault")])
        #expect(status.status == expected)
        #expect((status.message?.contains("Segmentation fault") ?? false) == (expected == .error))
    }

    @Test func failingNewRevisionIsAnErrorWhileTheOldReplicasKeepServing() throws {
        let status = derive(
            requested: 1,
            [replica("new", revision: 2, .backoff, exitCode: 3, failures: 2, lastLine: "SyntaxError: invalid syntax")],
            previous: [replica("old-1", revision: 1, .ready), replica("old-2", revision: 1, .ready)])
        #expect(status.status == .errorInitFailed)
        #expect(status.readyReplicas == 2)
        #expect(status.requestedReplicas == 1)
        #expect(status.replicas.map(\.id) == ["new", "old-1", "old-2"])
        let message = try #require(status.message)
        #expect(message.contains("SyntaxError: invalid syntax"))
        #expect(message.contains("revision 2: replica new"))
        #expect(message.contains("the update is held: 2 replica(s) of revision 1 keep serving"))
    }

    @Test func crashLoopNextToReadyReplicasOfTheSameRevisionDoesNotBlameAnOlderRevision() throws {
        let status = derive(
            requested: 2, [replica("a", .ready), replica("b", .backoff, exitCode: 1, failures: 3, lastLine: "boom")])
        #expect(status.status == .error)
        #expect(status.readyReplicas == 1)
        #expect(!(try #require(status.message)).contains("older revision"))
    }

    /// A replica killed past the start-up budget, as ``ReplicaRunner`` records it.
    private func initTimedOut(_ id: String, failures: Int, state: ReplicaState = .backoff, ready: Bool = false) -> ReplicaSnapshot {
        ReplicaSnapshot(
            document: ReplicaDocument(
                id: id, revision: 2, state: state, pid: nil, restarts: failures, lastExit: "init timed out after 3 s"),
            lastExitCode: nil, lastOutputLine: "loading weights", consecutiveFailures: failures,
            lastRunWasReady: ready, lastExitInitTimedOut: true)
    }

    @Test func initTimeoutIsAnInitFailureAtOnce() throws {
        let status = derive(requested: 1, [initTimedOut("iris-1", failures: 1)])
        #expect(status.status == .errorInitFailed)
        let message = try #require(status.message)
        #expect(message.contains("replica iris-1 init timed out after 3 s: loading weights"), "\(message)")
        #expect(message.contains("--startup-timeout-seconds"))
        #expect(message.contains("`tern logs iris`"))
    }

    @Test func initTimeoutWhileRetryingStillShowsTheError() {
        // The replica restarted after the timeout and is loading again.
        let status = derive(requested: 1, [initTimedOut("iris-1", failures: 1, state: .starting)])
        #expect(status.status == .errorInitFailed)
    }

    @Test func livenessKillOfAServingReplicaIsARestartNotAnInitFailure() {
        let snapshot = ReplicaSnapshot(
            document: ReplicaDocument(
                id: "b", revision: 2, state: .backoff, pid: nil, restarts: 1, lastExit: "not answering health checks"),
            lastExitCode: nil, lastOutputLine: nil, consecutiveFailures: 1, lastRunWasReady: true)
        let status = derive(requested: 2, [replica("a", .ready), snapshot])
        #expect(status.status == .updating)
        #expect(!snapshot.failedToLoad)
    }

    @Test func newRevisionReadyWhileOldReplicasStillStopIsUpdating() {
        let status = derive(
            requested: 1, [replica("new", revision: 2, .ready)], previous: [replica("old", revision: 1, .draining)])
        #expect(status.status == .updating)
        #expect(status.readyReplicas == 1)
    }
}
