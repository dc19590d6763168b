import TernCore
import Testing

@testable import TernScaling

/// A gateway's in-flight counts, fixed per API.
private struct FixedSource: InFlightSource {
    var counts: [String: Int]
    func inFlight(api: String) async -> Int { counts[api] ?? 0 }
}

@Suite struct SummedInFlightSourceTests {
    @Test func theTotalIsTheSumOverEverySource() async {
        let total = SummedInFlightSource([
            FixedSource(counts: ["iris": 3, "other": 1]), FixedSource(counts: ["iris": 4]), FixedSource(counts: [:]),
        ])
        #expect(await total.inFlight(api: "iris") == 7)
        #expect(await total.inFlight(api: "other") == 1)
        #expect(await total.inFlight(api: "unknown") == 0)
    }

    @Test func noSourceMeansNothingInFlight() async {
        #expect(await SummedInFlightSource([]).inFlight(api: "iris") == 0)
    }

    @Test func theSumSaturatesInsteadOfTrapping() async {
        let total = SummedInFlightSource([FixedSource(counts: ["iris": .max]), FixedSource(counts: ["iris": 1])])
        #expect(await total.inFlight(api: "iris") == .max)
    }
}
