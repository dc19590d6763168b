import TernCore
import Testing

@testable import TernGateway

/// The TrafficSplitter's smooth weighted round-robin picker.
@Suite struct WeightedPickerTests {
    private func picks(_ targets: [TrafficTarget], _ count: Int) -> [String] {
        var picker = WeightedPicker(targets)
        return (0..<count).map { _ in picker.next() ?? "-" }
    }

    @Test func eightyTwentyGivesAnInterleavedExactSequence() {
        let sequence = picks([TrafficTarget(name: "a", weight: 80), TrafficTarget(name: "b", weight: 20)], 10)
        #expect(sequence == ["a", "a", "b", "a", "a", "a", "a", "b", "a", "a"])
    }

    @Test func everyHundredPicksMatchTheWeightsExactly() {
        let targets = [
            TrafficTarget(name: "a", weight: 50), TrafficTarget(name: "b", weight: 33), TrafficTarget(name: "c", weight: 17),
        ]
        let sequence = picks(targets, 1_000)
        for window in stride(from: 0, to: 1_000, by: 100) {
            let slice = sequence[window..<window + 100]
            #expect(slice.filter { $0 == "a" }.count == 50)
            #expect(slice.filter { $0 == "b" }.count == 33)
            #expect(slice.filter { $0 == "c" }.count == 17)
        }
    }

    @Test func zeroWeightTargetIsNeverPickedEvenWhenListedFirst() {
        let sequence = picks([TrafficTarget(name: "zero", weight: 0), TrafficTarget(name: "all", weight: 100)], 500)
        #expect(Set(sequence) == ["all"])
    }

    @Test func shadowIsNeverPicked() {
        let sequence = picks(
            [TrafficTarget(name: "a", weight: 100), TrafficTarget(name: "s", weight: 50, shadow: true)], 200)
        #expect(Set(sequence) == ["a"])
    }

    @Test func noTargetWithPositiveWeightPicksNothing() {
        var picker = WeightedPicker([TrafficTarget(name: "a", weight: 0)])
        #expect(picker.next() == nil)
    }

    @Test func oneToNinetyNineSpreadsTheRareTarget() {
        let sequence = picks([TrafficTarget(name: "a", weight: 99), TrafficTarget(name: "b", weight: 1)], 300)
        #expect(sequence.indices.filter { sequence[$0] == "b" } == [50, 150, 250])
    }
}

/// Which requests a TrafficSplitter copies to its shadow.
@Suite struct MirrorSamplerTests {
    private func copies(_ percent: Int, _ count: Int) -> [Int] {
        var sampler = MirrorSampler(percent: percent)
        return (0..<count).filter { _ in sampler.next() }
    }

    @Test func copiesExactlyThePercentageOfEveryHundredRequests() {
        for percent in [0, 1, 10, 33, 50, 99, 100] {
            #expect(copies(percent, 300).count == 3 * percent, "percent \(percent)")
        }
    }

    @Test func spreadsTheCopiesEvenly() {
        #expect(copies(25, 12) == [3, 7, 11])
        #expect(copies(50, 6) == [1, 3, 5])
    }
}
