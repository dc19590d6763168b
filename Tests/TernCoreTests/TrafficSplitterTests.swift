import TernCore
import Testing

/// C22: TrafficSplitter weights are validated when the config is loaded.
@Suite struct TrafficSplitterTests {
    func splitter(_ targets: String) -> String {
        realtimeAPI("a") + realtimeAPI("b") + "- name: split\n  kind: TrafficSplitter\n  apis:\n" + targets
    }

    func issues(weights: [String]) -> [String] {
        configIssues(
            splitter(
                weights.enumerated().map { "    - {name: \(["a", "b"][$0.offset]), weight: \($0.element)}\n" }.joined())
        )
    }

    @Test func weightsThatDoNotAddUpTo100AreRejected() {
        #expect(
            issues(weights: ["50", "40"]) == [
                #"tern.yaml:11: api "split": apis: the weights of apis[*].weight (shadow excluded) add up to 90; they must add up to 100"#
            ])
        #expect(
            issues(weights: ["60", "60"]) == [
                #"tern.yaml:11: api "split": apis: the weights of apis[*].weight (shadow excluded) add up to 120; they must add up to 100"#
            ])
        #expect(
            issues(weights: ["0", "0"]) == [
                #"tern.yaml:11: api "split": apis: the weights of apis[*].weight (shadow excluded) add up to 0; they must add up to 100"#
            ])
    }

    @Test func weightsOutside0To100AreRejected() {
        #expect(
            issues(weights: ["-10", "110"]) == [
                #"tern.yaml:12: api "split": apis[0].weight: must be between 0 and 100 (got -10)"#,
                #"tern.yaml:13: api "split": apis[1].weight: must be between 0 and 100 (got 110)"#,
            ])
    }

    @Test func fractionalWeightsAreRejected() {
        #expect(
            issues(weights: ["33.3", "66.7"]) == [
                #"tern.yaml:12: api "split": apis[0].weight: expected an integer, got number 33.3"#,
                #"tern.yaml:13: api "split": apis[1].weight: expected an integer, got number 66.7"#,
            ])
    }

    @Test func zeroWeightTargetIsValid() throws {
        let config = try ConfigLoader.load(
            yaml: splitter("    - {name: a, weight: 100}\n    - {name: b, weight: 0}\n"), fileName: "tern.yaml")
        #expect(
            config.apis.last?.trafficSplit == [
                TrafficTarget(name: "a", weight: 100), TrafficTarget(name: "b", weight: 0),
            ])
    }

    @Test func sameAPIListedTwiceIsRejected() {
        #expect(
            configIssues(splitter("    - {name: a, weight: 50}\n    - {name: a, weight: 50}\n")) == [
                #"tern.yaml:13: api "split": apis[1].name: "a" is already listed in apis[0]; list each API once"#
            ])
    }

    @Test func twoShadowsAreRejected() {
        let targets =
            "    - {name: a, weight: 100}\n    - {name: b, weight: 10, shadow: true}\n    - {name: c, weight: 10, shadow: true}\n"
        #expect(
            configIssues(splitter(targets)) == [
                #"tern.yaml:14: api "split": apis[2].shadow: apis[1] is already the shadow; a TrafficSplitter has at most one shadow"#
            ])
    }

    @Test func emptyOrMissingTargetsAreRejected() {
        #expect(
            configIssues("- name: split\n  kind: TrafficSplitter\n  apis: []") == [
                #"tern.yaml:3: api "split": apis: must list at least one API"#
            ])
        #expect(
            configIssues("- name: split\n  kind: TrafficSplitter") == [
                #"tern.yaml:1: api "split": apis: required key is missing (the APIs to split traffic between, e.g. apis: [{name: a, weight: 80}, {name: b, weight: 20}])"#
            ])
    }

    @Test func misspeltSplitterKindGivesOneError() {
        #expect(
            configIssues("- name: split\n  kind: TrafficSpliter\n  apis: [{name: a, weight: 100}]") == [
                #"tern.yaml:2: api "split": kind: "TrafficSpliter" is not a kind of API (did you mean "TrafficSplitter"?)"#
            ])
    }

    @Test func targetsMustBeValidNamesOtherThanTheSplitter() {
        #expect(configIssues(splitter("    - {name: split, weight: 50}\n    - {name: B, weight: 50}\n")).count == 2)
    }

    @Test func targetThatIsNotARealtimeAPIInTheSameFileIsRejected() {
        let yaml =
            "- name: job\n  kind: BatchAPI\n  predictor: {type: python, path: p.py}\n" + realtimeAPI("b")
            + "- name: split\n  kind: TrafficSplitter\n  apis: [{name: job, weight: 50}, {name: b, weight: 50}]\n"
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:10: api "split": apis[0].name: "job" is a BatchAPI; a TrafficSplitter sends traffic to RealtimeAPIs only"#
            ])
    }

    @Test func splitterEndpointCountsForDuplicates() {
        let yaml =
            realtimeAPI("a")
            + "- name: split\n  kind: TrafficSplitter\n  networking: {endpoint: /a}\n  apis: [{name: a, weight: 100}]\n"
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:7: api "split": networking.endpoint: "/a" is already the endpoint of api "a" (line 1); endpoints must be unique"#
            ])
    }
}
