import TernCore
import TernTesting
import Testing

/// TernTesting's `SpecYAML` writes block YAML that loads to the spec written by hand.
@Suite struct SpecYAMLTests {
    private func spec(_ yaml: String) throws -> [APISpec] {
        try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml").apis
    }

    @Test func realtimeWritesEverySectionInBlockStyle() {
        let yaml = SpecYAML.realtime(
            name: "late", predictor: ["threads_per_process": 3], config: ["version": "v1", "init_seconds": 0.5],
            networking: ["request_timeout": "1s"], compute: ["cpu": "100m", "mem": "128Mi"], minReplicas: 0,
            maxReplicas: 2, initReplicas: 1, autoscaling: ["window": "1s"], updateStrategy: ["max_surge": 0],
            extra: "monitoring: {model_type: classification}")
        #expect(
            yaml == """
                - name: late
                  kind: RealtimeAPI
                  predictor:
                    type: python
                    path: predictor.py
                    threads_per_process: 3
                    config:
                      version: v1
                      init_seconds: 0.5
                  networking:
                    request_timeout: 1s
                  compute:
                    cpu: 100m
                    mem: 128Mi
                  autoscaling:
                    min_replicas: 0
                    max_replicas: 2
                    init_replicas: 1
                    window: 1s
                  update_strategy:
                    max_surge: 0
                  monitoring: {model_type: classification}

                """)
    }

    @Test func theDefaultsAreAPythonPredictorAndNothingElse() throws {
        #expect(
            SpecYAML.realtime(name: "echo")
                == "- name: echo\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n")
        #expect(
            try spec(SpecYAML.realtime(name: "echo"))
                == spec("- name: echo\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py}\n"))
    }

    @Test func nestedMappingsAndSequencesLoadAsTheirFlowForm() throws {
        let built = SpecYAML.realtime(
            name: "iris", path: "src/predictor.py",
            predictor: [
                "threads_per_process": 4,
                "models": ["paths": [["name": "a", "path": "models/a"], ["name": "b", "path": "s3://bucket/b"]], "cache_size": 1,
                    "disk_cache_size": 2,
                ],
                "env": ["LOG_LEVEL": "debug"],
            ],
            config: ["labels": ["a", "\"b c\""], "nested": ["on": true, "none": "null"], "empty": [:], "none_yet": []])
        let literal = """
            - name: iris
              kind: RealtimeAPI
              predictor:
                type: python
                path: src/predictor.py
                threads_per_process: 4
                models: {paths: [{name: a, path: models/a}, {name: b, path: "s3://bucket/b"}], cache_size: 1, disk_cache_size: 2}
                env: {LOG_LEVEL: debug}
                config: {labels: [a, "b c"], nested: {on: true, none: null}, empty: {}, none_yet: []}
            """
        #expect(try spec(built) == spec(literal))
        #expect(built.contains("    models:\n      paths:\n        - name: a\n          path: models/a\n        - name: b\n"))
    }

    @Test func specsConcatenateIntoOneFileWithATrafficSplitter() throws {
        let yaml =
            SpecYAML.realtime(name: "a") + SpecYAML.realtime(name: "b")
            + SpecYAML.trafficSplitter(name: "split", endpoint: "/ab", apis: ["a": 80, "b": 20])
        let apis = try spec(yaml)
        #expect(apis.map(\.name) == ["a", "b", "split"])
        #expect(apis[2].kind == .trafficSplitter)
        #expect(apis[2].networking.endpoint == "/ab")
        #expect(apis[2].trafficSplit == [TrafficTarget(name: "a", weight: 80), TrafficTarget(name: "b", weight: 20)])
        #expect(yaml.hasSuffix("  apis:\n    - name: a\n      weight: 80\n    - name: b\n      weight: 20\n"))
    }
}
