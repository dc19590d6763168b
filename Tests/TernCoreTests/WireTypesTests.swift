import Foundation
import TernCore
import Testing

/// The typed values of the control-plane documents encode as the strings clients already read.
@Suite struct WireTypesTests {
    private func json(_ value: some Encodable) throws -> String {
        String(decoding: try WireJSON.encoder().encode(value), as: UTF8.self)
    }

    @Test func deployActionsEncodeAsTheirBareStrings() throws {
        let result = DeployResult(apis: [
            .init(name: "a", action: .created, revision: 1), .init(name: "b", action: .updated, revision: 3),
            .init(name: "c", action: .unchanged, revision: 2),
        ])
        let text = try json(result)
        #expect(
            text == #"{"apis":[{"action":"created","name":"a","revision":1},{"action":"updated","name":"b","revision":3},"#
                + #"{"action":"unchanged","name":"c","revision":2}]}"#)
        #expect(try WireJSON.decoder().decode(DeployResult.self, from: Data(text.utf8)) == result)
    }

    @Test func anUnknownDeployActionDecodesRatherThanFails() throws {
        let text = #"{"apis":[{"action":"renamed","name":"a","revision":1}]}"#
        let result = try WireJSON.decoder().decode(DeployResult.self, from: Data(text.utf8))
        #expect(result.apis[0].action == DeployResult.Action(rawValue: "renamed"))
    }

    @Test func errorDocumentKindEncodesAsItsString() throws {
        let text = try json(ErrorDocument(kind: .updateInProgress, message: "wait", api: "iris"))
        #expect(text == #"{"error":{"api":"iris","kind":"update_in_progress","message":"wait"}}"#)
        let decoded = try WireJSON.decoder().decode(ErrorDocument.self, from: Data(#"{"error":{"kind":"predictor_error","message":"x"}}"#.utf8))
        #expect(decoded.error.kind == "predictor_error")
    }

    @Test func phaseIsAbsentUnlessSet() throws {
        var document = APIDocument(
            name: "iris", kind: "RealtimeAPI", status: .updating, message: nil, endpoint: "http://h/iris", revision: 1,
            requestedReplicas: 1, readyReplicas: 0, inFlight: 0, replicas: [], updatedAt: Date(timeIntervalSince1970: 0))
        #expect(!(try json(document)).contains("phase"))
        document.phase = .installingDependencies
        #expect(try json(document).contains(#""phase":"installing_dependencies""#))
    }

    @Test(arguments: [
        (APIStatus.error, true), (.errorInitFailed, true), (.errorOutOfMemory, true),
        (APIStatus(rawValue: "error (gpu lost)"), true), (.live, false), (.updating, false),
        (.computeUnavailable, false), (.scaledToZero, false), (APIStatus(rawValue: "errored"), false),
    ])
    func errorStatusesAreErrorOrErrorWithAReason(status: APIStatus, isError: Bool) {
        #expect(status.isError == isError)
    }
}

@Suite struct ComputePricingTests {
    private let pricing = ComputePricing(cpuHour: 0.04, gpuHour: 0.9, gibHour: 0.005)

    @Test func aReplicaCostsItsCPUsGPUsAndGiBAtTheirPrices() throws {
        var compute = ComputeSpec()
        compute.cpuMillicores = 500
        compute.memBytes = 2 << 30
        #expect(abs(pricing.perReplicaHour(compute) - 0.03) < 1e-12)  // 0.5 × 0.04 + 2 × 0.005
        compute.gpu = 1
        #expect(abs(pricing.perReplicaHour(compute) - 0.93) < 1e-12)
        // No mem request: memory costs nothing.
        #expect(abs(pricing.perReplicaHour(ComputeSpec()) - 0.008) < 1e-12)  // the default 200m
    }

    @Test func costPerThousandPredictionsSpreadsTheWindowsCostOverItsPredictions() throws {
        var compute = ComputeSpec()
        compute.cpuMillicores = 500
        compute.memBytes = 2 << 30
        compute.gpu = 1
        let cost = pricing.cost(compute: compute, replicas: 2, predictions: 120, window: .seconds(60))
        #expect(cost.replicas == 2)
        #expect(abs(cost.perHour - 1.86) < 1e-12)
        // 1.86 per hour × 1/60 h = 0.031 for 120 predictions: 0.2583… per 1,000.
        #expect(abs(try #require(cost.per1000Predictions) - 0.031 / 120 * 1000) < 1e-12)
        #expect(pricing.cost(compute: compute, replicas: 2, predictions: 0, window: .seconds(60)).per1000Predictions == nil)
        #expect(pricing.cost(compute: compute, replicas: 0, predictions: 5, window: .seconds(60)).perHour == 0)
    }

    @Test func documentsCarryTrafficPredictionsAndCostUnderSnakeCaseKeys() throws {
        let summary = TrafficSummary(
            windowSeconds: 60, requests: 3, requestRate: 0.05, latencyP50Ms: 9.7275, latencyP99Ms: nil,
            responses: StatusCounts(success: 2, serverError: 1), totalResponses: StatusCounts(success: 2, serverError: 1))
        let data = try WireJSON.encoder().encode(summary)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["request_rate"] as? Double == 0.05)
        #expect(object["latency_p50_ms"] as? Double == 9.7275)
        #expect(object["latency_p99_ms"] == nil)
        #expect((object["responses"] as? [String: Int])?["5xx"] == 1)
        #expect(try WireJSON.decoder().decode(TrafficSummary.self, from: data) == summary)
        let cost = CostSummary(replicas: 1, perHour: 0.03, per1000Predictions: nil)
        let costObject = try #require(
            try JSONSerialization.jsonObject(with: WireJSON.encoder().encode(cost)) as? [String: Any])
        #expect(costObject["per_hour"] as? Double == 0.03)
        #expect(costObject.keys.sorted() == ["per_hour", "replicas"])
    }
}
