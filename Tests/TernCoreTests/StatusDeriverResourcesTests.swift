import TernCore
import Testing

/// Statuses that come from `compute`: out-of-memory kills and replicas waiting for compute.
@Suite struct StatusDeriverResourcesTests {
    private let oomExit = "killed: out of memory (limit 256Mi)"

    private func replica(
        _ id: String, revision: Int = 2, _ state: ReplicaState, lastExit: String? = nil, failures: Int = 0,
        computeWait: String? = nil, outOfMemory: Bool = false, oomKills: Int = 0, wasReady: Bool = false
    ) -> ReplicaSnapshot {
        ReplicaSnapshot(
            document: ReplicaDocument(
                id: id, revision: revision, state: state, pid: state == .ready ? 100 : nil, restarts: failures,
                lastExit: lastExit),
            lastExitCode: nil, lastOutputLine: "allocating 512 MiB", consecutiveFailures: failures,
            computeWait: computeWait, lastExitOutOfMemory: outOfMemory, outOfMemoryKills: oomKills,
            lastRunWasReady: wasReady, memoryLimit: "256Mi")
    }

    private func derive(requested: Int, _ current: [ReplicaSnapshot], previous: [ReplicaSnapshot] = []) -> BackendAPIStatus {
        StatusDeriver.derive(api: "hog", requested: requested, current: current, previous: previous)
    }

    @Test func outOfMemoryWhileLoadingIsAnErrorAtOnce() throws {
        let status = derive(
            requested: 1, [replica("hog-1", .backoff, lastExit: oomExit, failures: 1, outOfMemory: true, oomKills: 1)])
        #expect(status.status == .errorOutOfMemory)
        #expect(status.status.rawValue == "error (out of memory)")
        let message = try #require(status.message)
        #expect(message.hasPrefix("replica hog-1 killed: out of memory (limit 256Mi) while loading the predictor"))
        #expect(message.contains("raise compute.mem"))
        #expect(message.contains("`tern logs hog`"))
        #expect(!message.contains("allocating"), "the last output line says nothing about an OOM kill")
    }

    @Test func outOfMemoryWhileServingIsARestartNotedInTheMessage() throws {
        let restarting = derive(
            requested: 2,
            [
                replica("hog-1", .ready),
                replica("hog-2", .backoff, lastExit: oomExit, failures: 1, outOfMemory: true, oomKills: 1, wasReady: true),
            ])
        #expect(restarting.status == .updating)
        #expect(restarting.message == "replica hog-2 was killed for going over compute.mem_limit (limit 256Mi) 1 time(s) and restarted")

        let back = derive(
            requested: 1, [replica("hog-1", .ready, lastExit: oomExit, failures: 1, outOfMemory: true, oomKills: 2, wasReady: true)])
        #expect(back.status == .live)
        #expect(try #require(back.message).contains("2 time(s)"))
    }

    @Test func repeatedOutOfMemoryWhileServingBecomesAnError() throws {
        let status = derive(
            requested: 1,
            [replica("hog-1", .backoff, lastExit: oomExit, failures: 3, outOfMemory: true, oomKills: 3, wasReady: true)])
        #expect(status.status == .errorOutOfMemory)
        #expect(try #require(status.message).contains("while serving"))
    }

    @Test func replicaWaitingForComputeMakesTheAPIComputeUnavailable() throws {
        let wait = "waiting for compute: needs 600m CPU; free 400m CPU (not enough CPU)"
        let status = derive(requested: 2, [replica("cap-1", .ready), replica("cap-2", .starting, computeWait: wait)])
        #expect(status.status == .computeUnavailable)
        #expect(status.status.rawValue == "compute unavailable")
        #expect(status.message == "replica cap-2 is \(wait)")
        #expect(status.readyReplicas == 1)
    }

    @Test func rollingUpdateBlockedByComputeSaysHowToUnblockIt() throws {
        let wait = "waiting for compute: needs 600m CPU; free 400m CPU (not enough CPU)"
        let status = derive(
            requested: 1, [replica("new", .starting, computeWait: wait)], previous: [replica("old", revision: 1, .ready)])
        #expect(status.status == .computeUnavailable)
        let message = try #require(status.message)
        #expect(message.contains("max_surge: 0"))
        #expect(message.contains("the update is held: 1 replica(s) of revision 1 keep serving"))
    }

    @Test func extraReplicasWaitingDoNotHideALiveAPI() {
        // Only happens transiently (scale-down retires waiting replicas first); live wins.
        let status = derive(requested: 1, [replica("a", .ready), replica("b", .starting, computeWait: "waiting for compute: …")])
        #expect(status.status == .live)
    }

    @Test func crashLoopWinsOverWaitingForCompute() {
        let status = derive(
            requested: 2,
            [
                replica("a", .backoff, lastExit: "exited with code 1", failures: 3),
                replica("b", .starting, computeWait: "waiting for compute: …"),
            ])
        #expect(status.status == .error)
    }

    /// `compute.mem` is a request: a ready replica over it leaves the API live, with a message.
    @Test func replicaOverItsMemoryRequestIsLiveWithAMessage() throws {
        var over = replica("hog-1", .ready)
        over.memoryOverRequest = "uses 180Mi, over its compute.mem request of 100M"
        let status = derive(requested: 1, [over])
        #expect(status.status == .live)
        #expect(
            status.message
                == "replica hog-1 uses 180Mi, over its compute.mem request of 100M: compute.mem is a reservation, "
                + "not a limit; raise it to what the replica uses, or set compute.mem_limit to enforce a limit")
        #expect(derive(requested: 1, [replica("hog-1", .ready)]).message == nil)
    }
}
