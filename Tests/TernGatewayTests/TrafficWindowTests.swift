import Foundation
import NIOCore
import TernCore
import TernTesting
import Testing

@testable import TernGateway

@Suite struct LatencyHistogramTests {
    @Test func smallValuesHaveABucketEachAndLargerOnesEightPerPowerOfTwo() {
        #expect(LatencyHistogram.index(microseconds: 0) == 0)
        #expect(LatencyHistogram.index(microseconds: 7) == 7)
        #expect(LatencyHistogram.index(microseconds: 8) == 8)
        #expect(LatencyHistogram.index(microseconds: 15) == 15)
        #expect(LatencyHistogram.index(microseconds: 16) == 16)
        #expect(LatencyHistogram.index(microseconds: 17) == 16)
        // 10 ms: 2^13 ≤ 10,000 < 2^14, eighth 9,216–10,239.
        #expect(LatencyHistogram.bounds(of: LatencyHistogram.index(microseconds: 10_000)) == (9216, 1024))
        #expect(LatencyHistogram.representative(of: LatencyHistogram.index(.milliseconds(10))) == 9727.5)
        // Beyond 2^32 µs everything goes into the last bucket.
        #expect(LatencyHistogram.index(microseconds: 1 << 40) == 239)
        #expect(LatencyHistogram.index(.seconds(1_000_000_000)) == 239)
        #expect(LatencyHistogram.index(.seconds(-1)) == 0)
    }

    @Test func everyBucketHoldsExactlyTheValuesBetweenItsBounds() {
        for index in 0..<LatencyHistogram.bucketCount {
            let (lower, width) = LatencyHistogram.bounds(of: index)
            #expect(LatencyHistogram.index(microseconds: lower) == index)
            #expect(LatencyHistogram.index(microseconds: lower + width - 1) == index)
            // At most an eighth of the lower bound wide: the midpoint is within 6.25 %.
            #expect(width == 1 || width * 8 <= lower)
        }
    }

    @Test func quantilesAreTheRepresentativesOfTheRankedBucket() {
        var counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
        #expect(LatencyHistogram.quantile(0.5, of: counts) == nil)
        counts[3] = 9  // 3 µs
        counts[5] = 1  // 5 µs
        #expect(LatencyHistogram.quantile(0.5, of: counts) == 3)
        #expect(LatencyHistogram.quantile(0.9, of: counts) == 3)  // rank 9
        #expect(LatencyHistogram.quantile(0.91, of: counts) == 5)  // rank 10
        #expect(LatencyHistogram.quantile(0, of: counts) == 3)
    }
}

@Suite struct TrafficWindowTests {
    /// 20 answers of 200 in 10 ms, one 400 in 2 ms and two 500 in 900 ms, all at `at`.
    private func knownTraffic(into window: inout TrafficWindow, at: Duration) {
        for _ in 0..<20 { window.record(status: 200, duration: .milliseconds(10), at: at) }
        window.record(status: 400, duration: .milliseconds(2), at: at)
        window.record(status: 500, duration: .milliseconds(900), at: at)
        window.record(status: 503, duration: .milliseconds(900), at: at + .milliseconds(500))
    }

    @Test func summaryGivesRateLatenciesAndCountsOfTheLastMinute() {
        var window = TrafficWindow()
        knownTraffic(into: &window, at: .seconds(100))
        let summary = window.summary(at: .seconds(101))
        #expect(summary.windowSeconds == 60)
        #expect(summary.requests == 23)
        #expect(summary.requestRate == 23.0 / 60)
        // Rank 12 of 23 is a 10 ms answer (bucket 9,216–10,239 µs); rank 23 a 900 ms one
        // (bucket 851,968–917,503 µs).
        #expect(summary.latencyP50Ms == 9.7275)
        #expect(summary.latencyP99Ms == 884.7355)
        #expect(summary.responses == StatusCounts(success: 20, clientError: 1, serverError: 2))
        #expect(summary.totalResponses == StatusCounts(success: 20, clientError: 1, serverError: 2))
    }

    @Test func answersLeaveTheWindowSixtySecondsAfterTheirSecond() {
        var window = TrafficWindow()
        knownTraffic(into: &window, at: .seconds(100))
        window.record(status: 200, duration: .milliseconds(1), at: .seconds(130))
        #expect(window.summary(at: .milliseconds(159_999)).requests == 24)
        let later = window.summary(at: .seconds(160))
        #expect(later.requests == 1)
        #expect(later.responses == StatusCounts(success: 1))
        #expect(later.latencyP50Ms == 0.9915)  // bucket 960–1,023 µs
        let empty = window.summary(at: .seconds(190))
        #expect(empty.requests == 0)
        #expect(empty.requestRate == 0)
        #expect(empty.latencyP50Ms == nil)
        #expect(empty.latencyP99Ms == nil)
        // The totals stay.
        #expect(empty.totalResponses == StatusCounts(success: 21, clientError: 1, serverError: 2))
    }

    @Test func aSecondReusesItsSlotAndALateAnswerForAnExpiredSecondIsDropped() {
        var window = TrafficWindow(seconds: 10)
        window.record(status: 200, duration: .milliseconds(1), at: .seconds(3))
        window.record(status: 500, duration: .milliseconds(1), at: .seconds(13))  // same slot, new second
        #expect(window.summary(at: .seconds(13)).responses == StatusCounts(serverError: 1))
        window.record(status: 404, duration: .milliseconds(1), at: .seconds(3))  // expired: not in the window
        #expect(window.summary(at: .seconds(13)).responses == StatusCounts(serverError: 1))
        #expect(window.summary(at: .seconds(13)).requestRate == 0.1)
    }

    @Test func statusesOutsideTheClassesCountOnlyTowardsLatency() {
        var window = TrafficWindow()
        window.record(status: 99, duration: .milliseconds(5), at: .zero)
        window.record(status: 101, duration: .milliseconds(5), at: .zero)
        let summary = window.summary(at: .zero)
        #expect(summary.requests == 2)
        #expect(summary.responses == StatusCounts(informational: 1))
    }
}

@Suite struct PredictionWindowTests {
    private let classifier = MonitoringSpec(modelType: .classification, key: "label")
    private let regressor = MonitoringSpec(modelType: .regression)

    private func read(_ text: String, _ monitoring: MonitoringSpec) -> PredictionValue? {
        PredictionWindow.read(Data(text.utf8), monitoring: monitoring)
    }

    @Test func readsTheKeyOfAnObjectOrTheWholeAnswerAsCortexDid() {
        #expect(read(#"{"label": "setosa", "p": 0.9}"#, classifier) == .label("setosa"))
        #expect(read(#"{"label": 2}"#, classifier) == .number(2))
        #expect(read(#"{"label": true}"#, classifier) == .label("true"))
        #expect(read(#"{"other": "setosa"}"#, classifier) == nil)
        #expect(read(#""setosa""#, classifier) == nil)  // a key needs an object
        let unkeyed = MonitoringSpec(modelType: .classification)
        #expect(read(#""setosa""#, unkeyed) == .label("setosa"))
        #expect(read("setosa\n", unkeyed) == .label("setosa"))  // a predictor that returned a str
        #expect(read("[1, 2]", unkeyed) == nil)
        #expect(read("null", unkeyed) == nil)
        #expect(read("", unkeyed) == nil)
        #expect(read("3.25", regressor) == .number(3.25))
        #expect(read(#""3.25""#, regressor) == .number(3.25))
        #expect(read("true", regressor) == nil)
        #expect(read(#""high""#, regressor) == nil)
    }

    @Test func classificationCountsEachClassAndTheUnreadable() {
        var window = PredictionWindow(monitoring: classifier)
        for label in ["setosa", "setosa", "versicolor", "setosa"] { window.record(.label(label), at: .seconds(5)) }
        window.record(.number(2), at: .seconds(6))
        window.record(nil, at: .seconds(6))
        window.recordSkipped(3, at: .seconds(6))
        let summary = window.summary(at: .seconds(10))
        #expect(summary.modelType == .classification)
        #expect(summary.key == "label")
        #expect(summary.count == 5)
        #expect(summary.unreadable == 1)
        #expect(summary.skipped == 3)
        #expect(summary.classes == ["setosa": 3, "versicolor": 1, "2": 1])
        #expect(summary.min == nil && summary.mean == nil)
        // Sixty seconds after second 6 nothing is left.
        let later = window.summary(at: .seconds(66))
        #expect(later.count == 0)
        #expect(later.classes == [:])
    }

    @Test func classesBeyondAHundredCountAsOther() {
        var window = PredictionWindow(monitoring: classifier)
        for index in 0..<105 { window.record(.label("c\(index)"), at: .zero) }
        let classes = window.summary(at: .zero).classes ?? [:]
        #expect(classes.count == 101)
        #expect(classes["(other)"] == 5)
        #expect(classes["c0"] == 1)
    }

    @Test func regressionGivesCountMinMaxMeanAndPercentiles() {
        var window = PredictionWindow(monitoring: regressor)
        for value in 1...20 { window.record(.number(Double(value)), at: .seconds(Int64(value % 3))) }
        window.record(.label("4.5"), at: .seconds(1))
        window.record(.label("n/a"), at: .seconds(1))
        let summary = window.summary(at: .seconds(2))
        #expect(summary.count == 21)
        #expect(summary.unreadable == 1)
        #expect(summary.min == 1)
        #expect(summary.max == 20)
        #expect(abs((summary.mean ?? 0) - 214.5 / 21) < 1e-12)
        #expect(summary.p50 == 10)  // rank 11 of 1, 2, 3, 4, 4.5, 5, …
        #expect(summary.p99 == 20)
        #expect(summary.classes == nil)
    }

    @Test func percentilesOfASampledSecondWeighEachKeptValue() {
        var window = PredictionWindow(monitoring: regressor)
        // 1,024 values of 1 in one second (512 kept, each standing for 2) and 20 of 100 in another.
        for _ in 0..<1024 { window.record(.number(1), at: .seconds(1)) }
        for _ in 0..<20 { window.record(.number(100), at: .seconds(2)) }
        let summary = window.summary(at: .seconds(2))
        #expect(summary.count == 1044)
        #expect(summary.p50 == 1)
        // Rank ⌈0.99 × 1,044⌉ = 1,034 is past the 1,024 ones the kept values stand for.
        #expect(summary.p99 == 100)
        #expect(summary.max == 100)
        #expect(summary.mean == 3024.0 / 1044)
    }
}

@Suite struct TrafficRecorderTests {
    private func record(
        _ api: String, status: Int, milliseconds: Int64, prediction: (MonitoringSpec, String)? = nil
    ) -> ExchangeRecord {
        ExchangeRecord(
            api: api, kind: "predict", requestID: "r", status: status, duration: .milliseconds(milliseconds),
            queued: nil,
            prediction: prediction.map { PredictionAnswer(monitoring: $0.0, body: ByteBuffer(string: $0.1)) })
    }

    @Test func reportsEachAPIsTrafficAndPredictionsAndForgetsDeletedOnes() async {
        let clock = ManualClock()
        let recorder = TrafficRecorder(clock: clock)
        let monitoring = MonitoringSpec(modelType: .classification, key: "label")
        #expect(await recorder.stats(api: "iris") == nil)
        for label in ["setosa", "setosa", "virginica"] {
            recorder.exchangeAnswered(record("iris", status: 200, milliseconds: 4, prediction: (monitoring, #"{"label":"\#(label)"}"#)))
        }
        recorder.exchangeAnswered(record("iris", status: 500, milliseconds: 4))
        recorder.exchangeAnswered(record("other", status: 200, milliseconds: 1))
        let stats = await recorder.stats(api: "iris")
        #expect(stats?.traffic.requests == 4)
        #expect(stats?.traffic.responses == StatusCounts(success: 3, serverError: 1))
        #expect(stats?.predictions?.classes == ["setosa": 2, "virginica": 1])
        #expect(await recorder.stats(api: "other")?.predictions == nil)
        // A minute later the window is empty; the totals remain.
        clock.advance(by: .seconds(61))
        let later = await recorder.stats(api: "iris")
        #expect(later?.traffic.requests == 0)
        #expect(later?.traffic.totalResponses == StatusCounts(success: 3, serverError: 1))
        #expect(later?.predictions?.count == 0)
        await recorder.forget(api: "iris")
        #expect(await recorder.stats(api: "iris") == nil)
    }

    @Test func predictionsBeyondTheQueueCapAreSkippedNotRead() async {
        let recorder = TrafficRecorder(clock: ManualClock())
        let monitoring = MonitoringSpec(modelType: .regression)
        for _ in 0..<(TrafficRecorder.maxQueuedPredictions + 3) {
            recorder.exchangeAnswered(record("r", status: 200, milliseconds: 1, prediction: (monitoring, "2.5")))
        }
        let predictions = await recorder.stats(api: "r")?.predictions
        #expect(predictions?.count == TrafficRecorder.maxQueuedPredictions)
        #expect(predictions?.skipped == 3)
        #expect(predictions?.mean == 2.5)
    }

    @Test func aChangedMonitoringStartsANewPredictionWindow() async {
        let recorder = TrafficRecorder(clock: ManualClock())
        recorder.exchangeAnswered(
            record("m", status: 200, milliseconds: 1, prediction: (MonitoringSpec(modelType: .regression), "1")))
        _ = await recorder.stats(api: "m")
        recorder.exchangeAnswered(
            record("m", status: 200, milliseconds: 1, prediction: (MonitoringSpec(modelType: .classification), "\"a\"")))
        let predictions = await recorder.stats(api: "m")?.predictions
        #expect(predictions?.modelType == .classification)
        #expect(predictions?.count == 1)
        #expect(predictions?.classes == ["a": 1])
    }
}
