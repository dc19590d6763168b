import Foundation
import TernCore
import Testing

@Suite struct ConfigLoaderTests {
    @Test func fullFileWithEveryKeyGivesExactValues() throws {
        let yaml = """
            - name: iris
              kind: RealtimeAPI
              predictor:
                type: python
                path: src/predictor.py
                config:
                  threshold: 0.5
                  labels: [setosa, versicolor]
                  seed: 42
                  nested: {on: true, none: null}
                python_path: src
                env:
                  LOG_LEVEL: debug
                  WORKERS: 4
                processes_per_replica: 1
                threads_per_process: 8
                server_side_batching:
                  max_batch_size: 8
                  batch_interval: 100ms
                  batch_wait: full_interval
                models:
                  paths:
                    - {name: small, path: models/small}
                    - {name: large, path: s3://bucket/large}
                  cache_size: 1
                  disk_cache_size: 2
              networking:
                endpoint: classifiers/iris/
                request_timeout: 30s
              compute:
                cpu: 1.5
                gpu: 1
                mem: 1Gi
              autoscaling:
                min_replicas: 2
                max_replicas: 10
                init_replicas: 3
                target_replica_concurrency: 12.5
                max_replica_concurrency: 64
                window: 30s
                downscale_stabilization_period: 10m
                upscale_stabilization_period: 0s
                max_downscale_factor: 0.5
                max_upscale_factor: 2
                downscale_tolerance: 0.1
                upscale_tolerance: 0.2
              update_strategy:
                max_surge: 1
                max_unavailable: 0%
              monitoring:
                model_type: classification
                key: label
            """
        let api = try loadSingleAPI(yaml)
        let expected = APISpec(
            name: "iris",
            kind: .realtimeAPI,
            predictor: PredictorSpec(
                type: .python,
                path: "src/predictor.py",
                config: .object([
                    "threshold": .number(0.5),
                    "labels": .array([.string("setosa"), .string("versicolor")]),
                    "seed": .number(42),
                    "nested": .object(["on": .bool(true), "none": .null]),
                ]),
                pythonPath: "src",
                env: ["LOG_LEVEL": "debug", "WORKERS": "4"],
                processesPerReplica: 1,
                threadsPerProcess: 8,
                serverSideBatching: BatchingSpec(maxBatchSize: 8, batchIntervalMs: 100, batchWait: .fullInterval),
                models: ModelsSpec(
                    source: .paths([
                        ModelPath(name: "small", path: "models/small"),
                        ModelPath(name: "large", path: "s3://bucket/large"),
                    ]),
                    cacheSize: 1,
                    diskCacheSize: 2
                )
            ),
            networking: NetworkingSpec(endpoint: "/classifiers/iris", requestTimeoutMs: 30_000),
            compute: ComputeSpec(cpuMillicores: 1500, gpu: 1, memBytes: 1_073_741_824),
            autoscaling: AutoscalingSpec(
                minReplicas: 2, maxReplicas: 10, initReplicas: 3, targetReplicaConcurrency: 12.5,
                maxReplicaConcurrency: 64, windowMs: 30_000, downscaleStabilizationPeriodMs: 600_000,
                upscaleStabilizationPeriodMs: 0, maxDownscaleFactor: 0.5, maxUpscaleFactor: 2,
                downscaleTolerance: 0.1, upscaleTolerance: 0.2
            ),
            updateStrategy: UpdateStrategySpec(maxSurge: .count(1), maxUnavailable: .percent(0)),
            monitoring: MonitoringSpec(modelType: .classification, key: "label")
        )
        #expect(api == expected)
    }

    @Test func minimalAPIGetsEveryDefault() throws {
        let api = try loadSingleAPI(realtimeAPI())
        #expect(api.name == "iris")
        #expect(api.kind == .realtimeAPI)
        #expect(api.predictor == PredictorSpec(type: .python, path: "predictor.py"))
        #expect(api.predictor?.config == .object([:]))
        #expect(api.predictor?.env == [:])
        #expect(api.predictor?.processesPerReplica == 1)
        #expect(api.predictor?.threadsPerProcess == 1)
        #expect(api.predictor?.pythonPath == nil)
        #expect(api.predictor?.serverSideBatching == nil)
        #expect(api.predictor?.models == nil)
        #expect(api.networking == NetworkingSpec(endpoint: "/iris", requestTimeoutMs: nil))
        #expect(api.compute == ComputeSpec(cpuMillicores: 200, gpu: 0, memBytes: nil))
        #expect(
            api.autoscaling
                == AutoscalingSpec(
                    minReplicas: 1, maxReplicas: 100, initReplicas: 1, targetReplicaConcurrency: 1,
                    maxReplicaConcurrency: 1024, windowMs: 60_000, downscaleStabilizationPeriodMs: 300_000,
                    upscaleStabilizationPeriodMs: 60_000, maxDownscaleFactor: 0.75, maxUpscaleFactor: 1.5,
                    downscaleTolerance: 0.05, upscaleTolerance: 0.05))
        #expect(api.updateStrategy == UpdateStrategySpec(maxSurge: .percent(25), maxUnavailable: .percent(25)))
        #expect(api.monitoring == nil)
        #expect(api.trafficSplit == nil)
    }

    @Test func initReplicasDefaultsToMinReplicas() throws {
        let api = try loadSingleAPI(realtimeAPI("iris", "  autoscaling: {min_replicas: 4}"))
        #expect(api.autoscaling.initReplicas == 4)
    }

    @Test func targetConcurrencyDefaultsToProcessesTimesThreads() throws {
        let api = try loadSingleAPI(
            """
            - name: iris
              kind: RealtimeAPI
              predictor: {type: python, path: p.py, processes_per_replica: 3, threads_per_process: 4}
            """)
        #expect(api.autoscaling.targetReplicaConcurrency == 12)
        #expect(api.predictor?.slotsPerReplica == 12)
    }

    @Test func nullSectionsAndKeysMeanDefaults() throws {
        let api = try loadSingleAPI(realtimeAPI("iris", "  autoscaling:\n  compute: {cpu: null}"))
        #expect(api.autoscaling == AutoscalingSpec())
        #expect(api.compute == ComputeSpec())
    }

    @Test func cpuAcceptsYAMLNumbers() throws {
        #expect(try loadSingleAPI(realtimeAPI("iris", "  compute: {cpu: 1}")).compute.cpuMillicores == 1000)
        #expect(try loadSingleAPI(realtimeAPI("iris", "  compute: {cpu: 0.25}")).compute.cpuMillicores == 250)
    }

    @Test func endpointIsNormalisedWithLeadingSlash() throws {
        let api = try loadSingleAPI(realtimeAPI("iris", "  networking: {endpoint: v2-models/iris}"))
        #expect(api.networking.endpoint == "/v2-models/iris")
    }

    @Test func cortexMultiModelReloadingKeyFillsModels() throws {
        let api = try loadSingleAPI(
            realtimeAPI("iris", predictor: "{type: python, path: p.py, multi_model_reloading: {dir: models}}"))
        #expect(api.predictor?.models == ModelsSpec(source: .dir("models")))
    }

    @Test func onnxPredictorWithSingleModelLoads() throws {
        let api = try loadSingleAPI(
            """
            - name: iris
              kind: RealtimeAPI
              predictor: {type: onnx, path: onnx_predictor.py, models: {path: model.onnx}}
            """)
        #expect(api.predictor?.type == .onnx)
        #expect(api.predictor?.models == ModelsSpec(source: .path("model.onnx")))
    }

    @Test func yamlMergeKeysShareSettingsBetweenAPIs() throws {
        let config = try ConfigLoader.load(
            yaml: """
                - name: a
                  kind: RealtimeAPI
                  predictor: {type: python, path: a.py}
                  compute: &small {cpu: 500m, mem: 256Mi}
                - name: b
                  kind: RealtimeAPI
                  predictor: {type: python, path: b.py}
                  compute:
                    <<: *small
                    cpu: 1
                """, fileName: "tern.yaml")
        #expect(
            config.apis.map(\.compute) == [
                ComputeSpec(cpuMillicores: 500, memBytes: 268_435_456),
                ComputeSpec(cpuMillicores: 1000, memBytes: 268_435_456),
            ])
    }

    @Test func trafficSplitterLoadsWithTargetsAndNoPredictor() throws {
        let config = try ConfigLoader.load(
            yaml: realtimeAPI("a") + realtimeAPI("b") + """
                - name: split
                  kind: TrafficSplitter
                  apis:
                    - {name: a, weight: 80}
                    - {name: b, weight: 20}
                    - {name: c, weight: 5, shadow: true}
                """, fileName: "tern.yaml")
        let splitter = try #require(config.apis.last)
        #expect(splitter.kind == .trafficSplitter)
        #expect(splitter.predictor == nil)
        #expect(splitter.networking.endpoint == "/split")
        #expect(
            splitter.trafficSplit == [
                TrafficTarget(name: "a", weight: 80), TrafficTarget(name: "b", weight: 20),
                TrafficTarget(name: "c", weight: 5, shadow: true),
            ])
    }

    @Test func specRoundTripsThroughJSON() throws {
        let config = try ConfigLoader.load(
            yaml: realtimeAPI(
                "iris", predictor: "{type: python, path: p.py, config: {a: [1, 2.5, x, null, true]}}",
                "  update_strategy: {max_surge: 2}"),
            fileName: "tern.yaml")
        let data = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(ProjectConfig.self, from: data) == config)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains(#""kind":"RealtimeAPI""#))
        #expect(json.contains(#""maxSurge":2"#))
        #expect(json.contains(#""maxUnavailable":"25%""#))
    }

    @Test func modelSourceEncodesLikeYAML() throws {
        let models = ModelsSpec(source: .paths([ModelPath(name: "a", path: "m/a")]), cacheSize: 1, diskCacheSize: 1)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(models.source)
        #expect(String(decoding: data, as: UTF8.self) == #"{"paths":[{"name":"a","path":"m/a"}]}"#)
        #expect(try JSONDecoder().decode(ModelsSpec.self, from: JSONEncoder().encode(models)) == models)
        #expect(try JSONDecoder().decode(ModelSource.self, from: Data(#"{"dir":"models"}"#.utf8)) == .dir("models"))
    }

    @Test func batchingEncodesItsWaitAndASpecStoredWithoutItDecodesAsAdaptive() throws {
        let spec = BatchingSpec(maxBatchSize: 8, batchIntervalMs: 2, batchWait: .fullInterval)
        let data = try JSONEncoder().encode(spec)
        #expect(String(decoding: data, as: UTF8.self).contains(#""batchWait":"full_interval""#))
        #expect(try JSONDecoder().decode(BatchingSpec.self, from: data) == spec)
        let stored = Data(#"{"maxBatchSize":8,"batchIntervalMs":2}"#.utf8)  // before batch_wait existed
        #expect(
            try JSONDecoder().decode(BatchingSpec.self, from: stored)
                == BatchingSpec(maxBatchSize: 8, batchIntervalMs: 2, batchWait: .adaptive))
    }

    @Test func batchAsyncAndTaskAPIsUseTheSameSchema() throws {
        let yaml = ["BatchAPI", "AsyncAPI", "TaskAPI"].enumerated().map { index, kind in
            "- name: api\(index)\n  kind: \(kind)\n  predictor: {type: python, path: p.py}\n"
        }.joined()
        #expect(
            try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml").apis.map(\.kind) == [
                .batchAPI, .asyncAPI, .taskAPI,
            ])
    }

    @Test func jsonValueEncodesPlainJSON() throws {
        let value = JSONValue.object(["a": .array([.number(1), .number(2.5), .string("x"), .null, .bool(true)])])
        let data = try JSONEncoder().encode(value)
        #expect(String(decoding: data, as: UTF8.self) == #"{"a":[1,2.5,"x",null,true]}"#)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }

    @Test func loadFromFileNamesTheFileInMessages() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("terncore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("cortex.yaml")
        try realtimeAPI("iris", "  compute: {cpu: two}").write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(fileAt: url) }
        do {
            _ = try ConfigLoader.load(fileAt: url)
        } catch {
            #expect(
                error.description
                    == #"cortex.yaml:4: api "iris": compute.cpu: "two" is not a CPU quantity (examples: 200m, 0.5, 2)"#)
        }
    }

    @Test func unreadableFileIsAConfigError() {
        let url = URL(fileURLWithPath: "/nonexistent/tern.yaml")
        do {
            _ = try ConfigLoader.load(fileAt: url)
            Issue.record("expected an error")
        } catch {
            #expect(error.issues.count == 1)
            #expect(error.issues[0].file == "tern.yaml")
            #expect(error.issues[0].line == nil)
            #expect(error.issues[0].message.hasPrefix("cannot read /nonexistent/tern.yaml"))
        }
    }
}
