import TernCore
import Testing

@testable import TernControlPlane

/// The control plane's TrafficSplitter rules (targets exist and are RealtimeAPIs, delete
/// refused while referenced, status from the targets').
@Suite struct TrafficSplitRulesTests {
    private func realtime(_ name: String) -> APISpec {
        APISpec(name: name, predictor: PredictorSpec(type: .python, path: "predictor.py"))
    }

    private func splitter(_ name: String, _ targets: [TrafficTarget]) -> APISpec {
        APISpec(name: name, kind: .trafficSplitter, predictor: nil, trafficSplit: targets)
    }

    private let eightyTwenty = [TrafficTarget(name: "a", weight: 80), TrafficTarget(name: "b", weight: 20)]

    @Test func targetsInTheFileOrDeployedAreAccepted() {
        #expect(
            TrafficSplitRules.check(
                file: [realtime("a"), splitter("s", eightyTwenty)], deployed: [realtime("b")], fileName: "tern.yaml")
                == nil)
    }

    @Test func targetNeitherDeployedNorInTheFileIsRejectedNamingTheKeyPath() throws {
        let error = try #require(
            TrafficSplitRules.check(file: [splitter("s", eightyTwenty)], deployed: [realtime("a")], fileName: "tern.yaml"))
        #expect("\(error.status)".hasPrefix("422"))
        #expect(error.kind == "target_not_found")
        #expect(error.api == "s")
        #expect(
            error.message
                == #"tern.yaml: api "s": apis[1].name: API "b" is not deployed and not in tern.yaml; deploy it first or add it to the file"#
        )
    }

    @Test func targetThatIsADeployedSplitterIsRejected() throws {
        let error = try #require(
            TrafficSplitRules.check(
                file: [splitter("s", [TrafficTarget(name: "t", weight: 100)])],
                deployed: [splitter("t", [TrafficTarget(name: "a", weight: 100)]), realtime("a")], fileName: "tern.yaml"))
        #expect(error.kind == "invalid_target")
        #expect(
            error.message
                == #"tern.yaml: api "s": apis[0].name: API "t" is a TrafficSplitter; a TrafficSplitter sends traffic to RealtimeAPIs only"#
        )
    }

    @Test func shadowTargetMustExistLikeTheOthers() throws {
        let targets = [TrafficTarget(name: "a", weight: 100), TrafficTarget(name: "b", weight: 10, shadow: true)]
        #expect(
            TrafficSplitRules.check(
                file: [splitter("s", targets)], deployed: [realtime("a"), realtime("b")], fileName: "tern.yaml") == nil)
        let error = try #require(
            TrafficSplitRules.check(file: [splitter("s", targets)], deployed: [realtime("a")], fileName: "tern.yaml"))
        #expect(error.kind == "target_not_found")
        #expect(error.message.hasPrefix(#"tern.yaml: api "s": apis[1].name: API "b" is not deployed"#))
    }

    @Test func targetOfADeployedSplitterMustStayARealtimeAPI() throws {
        let error = try #require(
            TrafficSplitRules.check(
                file: [splitter("b", [TrafficTarget(name: "a", weight: 100)])],
                deployed: [realtime("a"), realtime("b"), splitter("s", eightyTwenty)], fileName: "tern.yaml"))
        #expect("\(error.status)".hasPrefix("409"))
        #expect(error.kind == "api_in_use")
        #expect(error.message.contains("TrafficSplitter s sends traffic to it (apis[1])"))
    }

    @Test func refusalsNameTheLineOfTheTargetInTheFileBeingDeployed() throws {
        let yaml = """
            - name: a
              kind: RealtimeAPI
              predictor: {type: python, path: predictor.py}
            - name: s
              kind: TrafficSplitter
              apis:
                - name: a
                  weight: 80
                - {name: t, weight: 20}
            """
        let config = try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml")
        #expect(config.line(api: "s", keyPath: "apis[0].name") == 7)
        #expect(config.line(api: "s", keyPath: "apis[1].name") == 9)
        #expect(config.line(api: "s", keyPath: "kind") == 5)
        #expect(config.line(api: "a", keyPath: "name") == 1)

        let missing = try #require(
            TrafficSplitRules.check(file: config.apis, deployed: [], fileName: "tern.yaml", lines: config.lines))
        #expect(
            missing.message
                == #"tern.yaml:9: api "s": apis[1].name: API "t" is not deployed and not in tern.yaml; deploy it first or add it to the file"#
        )
        let splitter = try #require(
            TrafficSplitRules.check(
                file: config.apis, deployed: [splitter("t", [TrafficTarget(name: "a", weight: 100)])],
                fileName: "tern.yaml", lines: config.lines))
        #expect(splitter.kind == "invalid_target")
        #expect(splitter.message.hasPrefix(#"tern.yaml:9: api "s": apis[1].name: API "t" is a TrafficSplitter"#))
    }

    @Test func turningATargetIntoASplitterIsRefusedAtTheLineOfItsKind() throws {
        let yaml = """
            - name: b
              kind: TrafficSplitter
              apis: [{name: a, weight: 100}]
            """
        let config = try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml")
        let error = try #require(
            TrafficSplitRules.check(
                file: config.apis, deployed: [realtime("a"), realtime("b"), splitter("s", eightyTwenty)],
                fileName: "tern.yaml", lines: config.lines))
        #expect(error.kind == "api_in_use")
        #expect(
            error.message
                == #"tern.yaml:2: api "b": TrafficSplitter s sends traffic to it (apis[1]), so it must stay a RealtimeAPI; change s first"#
        )
    }

    @Test func deletingAReferencedAPIIsRefusedNamingTheSplitter() throws {
        let deployed = [realtime("a"), realtime("b"), splitter("s", eightyTwenty)]
        let error = try #require(TrafficSplitRules.deleteRefusal(of: "b", deployed: deployed))
        #expect("\(error.status)".hasPrefix("409"))
        #expect(error.kind == "api_in_use")
        #expect(
            error.message
                == "API b receives traffic from TrafficSplitter s (apis[1]); remove it from the splitter's apis (or delete the splitter) first"
        )
        #expect(TrafficSplitRules.deleteRefusal(of: "s", deployed: deployed) == nil)
    }

    @Test func refreshAndLogsOfASplitterNameItsTargets() throws {
        let error = try #require(TrafficSplitRules.noReplicas(splitter("s", eightyTwenty), action: "logs"))
        #expect(error.kind == "no_replicas")
        #expect(error.message == "s is a TrafficSplitter: it has no replicas of its own; use `tern logs` on its targets (a, b)")
        #expect(TrafficSplitRules.noReplicas(realtime("a"), action: "logs") == nil)
    }

    private func backend(_ status: APIStatus, _ message: String? = nil) -> BackendAPIStatus {
        BackendAPIStatus(status: status, message: message, requestedReplicas: 1, readyReplicas: 1, replicas: [])
    }

    @Test func splitterIsLiveWhenEveryWeightedTargetIsLive() {
        let targets = [
            TrafficTarget(name: "a", weight: 100), TrafficTarget(name: "b", weight: 0),
            TrafficTarget(name: "c", weight: 50, shadow: true),
        ]
        let derived = TrafficSplitRules.status(
            of: targets, statuses: ["a": backend(.live), "b": backend(.error, "boom"), "c": backend(.updating)])
        #expect(derived.status == .live)
        #expect(derived.message == nil)
    }

    @Test func splitterTakesTheWorstTargetStatusNamingIt() {
        let targets = [
            TrafficTarget(name: "a", weight: 40), TrafficTarget(name: "b", weight: 30), TrafficTarget(name: "c", weight: 30),
        ]
        let derived = TrafficSplitRules.status(
            of: targets,
            statuses: ["a": backend(.updating), "b": backend(.errorInitFailed, "ImportError: no module x"), "c": backend(.live)])
        #expect(derived.status == .errorInitFailed)
        #expect(derived.message == "target API b is error (init failed): ImportError: no module x")
        let missing = TrafficSplitRules.status(of: targets, statuses: ["a": backend(.live), "b": backend(.live)])
        #expect(missing.status == .updating)
        #expect(missing.message == "target API c is updating")
    }
}
