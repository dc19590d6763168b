import Foundation
import TernCore
import Testing

@testable import TernCLI

@Suite struct TrafficFormatTests {
    private func document(traffic: TrafficSummary?, cost: CostSummary? = nil) -> APIDocument {
        APIDocument(
            name: "iris", kind: "RealtimeAPI", status: .live, message: nil, endpoint: "http://127.0.0.1:8888/iris",
            revision: 2, requestedReplicas: 2, readyReplicas: 2, inFlight: 1, replicas: [],
            updatedAt: Date(timeIntervalSince1970: 1000), upToDateReplicas: 1, traffic: traffic, cost: cost)
    }

    private let traffic = TrafficSummary(
        windowSeconds: 60, requests: 23, requestRate: 23.0 / 60, latencyP50Ms: 9.7275, latencyP99Ms: 884.7355,
        responses: StatusCounts(success: 20, clientError: 1, serverError: 2),
        totalResponses: StatusCounts(success: 120, clientError: 4, serverError: 2))

    @Test func rowShowsReplicasAgeRateLatenciesAndTotalsSinceStart() {
        let now = Date(timeIntervalSince1970: 1000 + 17 * 60 + 5)
        #expect(
            TrafficFormat.row(document(traffic: traffic), withCost: false, now: now) == [
                "iris", "live", "1", "2", "2", "1", "17m", "0.38", "9.7ms", "885ms", "120", "4", "2",
                "http://127.0.0.1:8888/iris",
            ])
        #expect(TrafficFormat.header(withCost: false).count == 14)
    }

    @Test func rowWithoutTrafficOrCostShowsDashes() {
        let now = Date(timeIntervalSince1970: 1030)
        let row = TrafficFormat.row(document(traffic: nil), withCost: true, now: now)
        #expect(row == ["iris", "live", "1", "2", "2", "1", "30s", "-", "-", "-", "-", "-", "-", "-", "-", "http://127.0.0.1:8888/iris"])
        #expect(TrafficFormat.header(withCost: true).suffix(3) == ["COST/H", "COST/1K", "ENDPOINT"])
    }

    @Test func costColumnsShowPerHourAndPerThousand() {
        let cost = CostSummary(replicas: 2, perHour: 1.86, per1000Predictions: 0.2583333)
        let row = TrafficFormat.row(document(traffic: traffic, cost: cost), withCost: true, now: Date(timeIntervalSince1970: 1000))
        #expect(Array(row[13...14]) == ["1.86", "0.2583"])
    }

    @Test func unitsReadAsPeopleWriteThem() {
        #expect(TrafficFormat.milliseconds(0.42) == "0.42ms")
        #expect(TrafficFormat.milliseconds(3.24) == "3.2ms")
        #expect(TrafficFormat.milliseconds(1250) == "1.25s")
        #expect(TrafficFormat.age(of: Date(timeIntervalSince1970: 0), now: Date(timeIntervalSince1970: 3 * 3600)) == "3h")
        #expect(TrafficFormat.age(of: Date(timeIntervalSince1970: 0), now: Date(timeIntervalSince1970: 2 * 86_400 + 5)) == "2d")
        #expect(TrafficFormat.uptime(nil) == "-")
        #expect(TrafficFormat.uptime(754) == "12m34s")
        #expect(TrafficFormat.uptime(3 * 3600 + 5 * 60) == "3h05m")
        #expect(TrafficFormat.money(0.03) == "0.03")
        #expect(TrafficFormat.number(2.5) == "2.5")
        #expect(TrafficFormat.number(20) == "20")
    }

    @Test func predictionsOfAClassifierAreATableByCount() {
        let predictions = PredictionSummary(
            modelType: .classification, key: "label", windowSeconds: 60, count: 4, unreadable: 1, skipped: 0,
            classes: ["versicolor": 1, "setosa": 3])
        let lines = TrafficFormat.predictionLines(predictions)
        #expect(lines[0] == "predictions (classification, key label, last 60s): 4 read, 1 unreadable")
        let rows = lines[1].split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows == [["CLASS", "COUNT", "SHARE"], ["setosa", "3", "75.0%"], ["versicolor", "1", "25.0%"]])
    }

    @Test func predictionsOfARegressorAreItsFigures() {
        let predictions = PredictionSummary(
            modelType: .regression, key: nil, windowSeconds: 60, count: 21, unreadable: 0, skipped: 2, min: 1, max: 20,
            mean: 10.214285, p50: 10, p99: 20)
        #expect(
            TrafficFormat.predictionLines(predictions) == [
                "predictions (regression, last 60s): 21 read, 0 unreadable, 2 skipped (a sample)",
                "count 21, min 1, max 20, mean 10.21, p50 10, p99 20",
            ])
    }
}
