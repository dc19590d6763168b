import TernCore
import Testing

@Suite struct UpdateStrategySpecTests {
    @Test(arguments: [
        // replicas, surge, unavailable → resolved surge, resolved unavailable
        (4, ReplicaCount.percent(25), ReplicaCount.percent(25), 1, 1),
        (3, .percent(25), .percent(25), 1, 0),
        (1, .percent(25), .percent(25), 1, 0),
        (10, .percent(25), .percent(25), 3, 2),
        (10, .count(2), .count(0), 2, 0),
        (1, .percent(0), .percent(10), 0, 1),  // both would be 0: unavailable becomes 1
        (0, .percent(25), .percent(25), 0, 1),
        (7, .percent(100), .percent(100), 7, 7),
    ])
    func resolveRoundsSurgeUpAndUnavailableDown(
        replicas: Int, surge: ReplicaCount, unavailable: ReplicaCount, expectedSurge: Int, expectedUnavailable: Int
    ) {
        let resolved = UpdateStrategySpec(maxSurge: surge, maxUnavailable: unavailable).resolve(replicas: replicas)
        #expect(resolved.maxSurge == expectedSurge)
        #expect(resolved.maxUnavailable == expectedUnavailable)
    }

    @Test func replicaCountReadsIntegersAndPercentages() throws {
        let api = try loadSingleAPI(realtimeAPI("iris", "  update_strategy: {max_surge: 3, max_unavailable: \"50%\"}"))
        #expect(api.updateStrategy == UpdateStrategySpec(maxSurge: .count(3), maxUnavailable: .percent(50)))
        #expect(ReplicaCount.percent(50).description == "50%")
    }
}
