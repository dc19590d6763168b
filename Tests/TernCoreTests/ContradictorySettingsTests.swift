import TernCore
import Testing

/// C25: each setting is valid alone, but the combination can never work; the message names
/// both keys and the relation required.
@Suite struct ContradictorySettingsTests {
    @Test func targetConcurrencyAboveMaxConcurrencyIsRejected() {
        #expect(
            configIssues(
                realtimeAPI("iris", "  autoscaling: {target_replica_concurrency: 8, max_replica_concurrency: 4}")) == [
                    #"tern.yaml:4: api "iris": autoscaling.target_replica_concurrency: 8 must not exceed autoscaling.max_replica_concurrency (4)"#
                ])
    }

    @Test func defaultTargetConcurrencyAboveMaxConcurrencyIsRejected() {
        let yaml = realtimeAPI(
            "iris", predictor: "{type: python, path: p.py, processes_per_replica: 2, threads_per_process: 4}",
            "  autoscaling: {max_replica_concurrency: 6}")
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:4: api "iris": autoscaling.max_replica_concurrency: 6 is less than autoscaling.target_replica_concurrency, which defaults to predictor.processes_per_replica × predictor.threads_per_process (8); raise max_replica_concurrency to at least 8 or set target_replica_concurrency"#
            ])
    }

    @Test func minReplicasAboveMaxReplicasIsRejected() {
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling:\n    min_replicas: 5\n    max_replicas: 2")) == [
                #"tern.yaml:5: api "iris": autoscaling.min_replicas: 5 must not exceed autoscaling.max_replicas (2)"#
            ])
    }

    @Test func initReplicasOutsideMinMaxIsRejected() {
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {init_replicas: 10, max_replicas: 3}")) == [
                #"tern.yaml:4: api "iris": autoscaling.init_replicas: 10 must be between autoscaling.min_replicas (1) and autoscaling.max_replicas (3)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {init_replicas: 1, min_replicas: 2}")) == [
                #"tern.yaml:4: api "iris": autoscaling.init_replicas: 1 must be between autoscaling.min_replicas (2) and autoscaling.max_replicas (100)"#
            ])
    }

    @Test func minReplicasZeroIsAllowedForScaleToZero() throws {
        let api = try loadSingleAPI(realtimeAPI("iris", "  autoscaling: {min_replicas: 0}"))
        #expect(api.autoscaling.minReplicas == 0)
        #expect(api.autoscaling.initReplicas == 0)
    }

    @Test func moreLocalModelsThanDiskCacheIsRejected() {
        let yaml = """
            - name: iris
              kind: RealtimeAPI
              predictor:
                type: python
                path: p.py
                models:
                  paths:
                    - {name: a, path: models/a}
                    - {name: b, path: models/b}
                    - {name: c, path: models/c}
                    - {name: d, path: models/d}
                    - {name: e, path: models/e}
                  cache_size: 2
                  disk_cache_size: 3
            """
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:14: api "iris": predictor.models.disk_cache_size: 3 is less than the number of local models in predictor.models.paths (5); local models always stay on disk, so it must be at least 5"#
            ])
    }

    @Test func cacheRulesBetweenSizesAndModels() {
        func issues(_ models: String, processes: Int = 1) -> [String] {
            configIssues(
                realtimeAPI(
                    "iris",
                    predictor: "{type: python, path: p.py, processes_per_replica: \(processes), models: \(models)}"))
        }
        let prefix = #"tern.yaml:3: api "iris": predictor.models"#
        #expect(
            issues("{dir: models, cache_size: 3, disk_cache_size: 2}") == [
                prefix + ".cache_size: 3 must not exceed predictor.models.disk_cache_size (2)"
            ])
        #expect(
            issues("{dir: models, cache_size: 3}") == [
                prefix
                    + ".cache_size: predictor.models.cache_size and predictor.models.disk_cache_size go together: give both or neither"
            ])
        #expect(
            issues("{dir: models, cache_size: 1, disk_cache_size: 2}", processes: 2) == [
                prefix + ".cache_size: model caching needs predictor.processes_per_replica to be 1 (got 2)"
            ])
        // Cache sizes count versions (a model is a name and a version), which only the model's
        // folder shows: one model may fill a cache of 2 with two versions (issue 12 item 4).
        #expect(issues("{paths: [{name: a, path: s3://b/a}], cache_size: 2, disk_cache_size: 2}") == [])
        #expect(issues("{path: s3://b/a, cache_size: 1, disk_cache_size: 2}") == [])
        #expect(
            issues("{dir: models, cache_size: 0, disk_cache_size: 1}") == [
                prefix + ".cache_size: must be between 1 and 100000 (got 0)"
            ])
        #expect(
            issues("{path: a, dir: b}") == [
                prefix + ".dir: cannot be combined with predictor.models.path; give exactly one of path, paths or dir"
            ])
        #expect(issues("{cache_size: 1, disk_cache_size: 1}") == [prefix + ": give one of path, paths or dir"])
        #expect(
            issues("{paths: [{name: a, path: x}, {name: a, path: y}]}") == [
                prefix
                    + #".paths[1].name: "a" is already the name of predictor.models.paths[0]; model names must be unique"#
            ])
        #expect(
            issues("{path: ftp://host/m}") == [
                prefix
                    + #".path: "ftp://host/m" has an unsupported URL scheme (allowed: file, s3, gs, http, https, or a path in the project)"#
            ])
    }

    @Test func modelsAndMultiModelReloadingTogetherAreRejected() {
        #expect(
            configIssues(
                realtimeAPI(
                    "iris", predictor: "{type: python, path: p.py, models: {dir: a}, multi_model_reloading: {dir: b}}"))
                == [
                    #"tern.yaml:3: api "iris": predictor.multi_model_reloading: cannot be combined with predictor.models: both are the same setting (multi_model_reloading is Cortex's older name); keep one"#
                ])
    }

    @Test func onnxPredictorWithoutModelsIsRejected() {
        #expect(
            configIssues(realtimeAPI("iris", predictor: "{type: onnx, path: p.py}")) == [
                #"tern.yaml:3: api "iris": predictor.models: required key is missing (an onnx predictor needs its .onnx model, e.g. models: {path: model.onnx})"#
            ])
    }

    @Test func zeroBatchSizeIsRejected() {
        #expect(
            configIssues(
                realtimeAPI(
                    "iris",
                    predictor:
                        "{type: python, path: p.py, server_side_batching: {max_batch_size: 0, batch_interval: 10ms}}"))
                == [
                    #"tern.yaml:3: api "iris": predictor.server_side_batching.max_batch_size: must be between 1 and 65535 (got 0)"#
                ])
    }

    @Test func zeroBatchIntervalIsRejected() {
        #expect(
            configIssues(
                realtimeAPI(
                    "iris",
                    predictor:
                        "{type: python, path: p.py, server_side_batching: {max_batch_size: 4, batch_interval: 0s}}"))
                == [
                    #"tern.yaml:3: api "iris": predictor.server_side_batching.batch_interval: must be greater than 0s and at most 1h (got 0s)"#
                ])
        #expect(
            configIssues(
                realtimeAPI(
                    "iris",
                    predictor:
                        "{type: python, path: p.py, server_side_batching: {max_batch_size: 4, batch_interval: 0}}"))
                == [
                    #"tern.yaml:3: api "iris": predictor.server_side_batching.batch_interval: must be greater than 0s and at most 1h (got 0s)"#
                ])
    }

    @Test func batchingWithoutBothKeysIsRejected() {
        #expect(
            configIssues(
                realtimeAPI("iris", predictor: "{type: python, path: p.py, server_side_batching: {max_batch_size: 4}}"))
                == [
                    #"tern.yaml:3: api "iris": predictor.server_side_batching.batch_interval: required key is missing (how long a batch may wait to fill, e.g. 100ms)"#
                ])
    }

    @Test func batchWaitDefaultsToAdaptiveAndTakesFullInterval() throws {
        let batching = { (extra: String) in
            "{type: python, path: p.py, server_side_batching: {max_batch_size: 4, batch_interval: 10ms\(extra)}}"
        }
        #expect(
            try loadSingleAPI(realtimeAPI("iris", predictor: batching(""))).predictor?.serverSideBatching
                == BatchingSpec(maxBatchSize: 4, batchIntervalMs: 10, batchWait: .adaptive))
        #expect(
            try loadSingleAPI(realtimeAPI("iris", predictor: batching(", batch_wait: adaptive"))).predictor?
                .serverSideBatching?.batchWait == .adaptive)
        #expect(
            try loadSingleAPI(realtimeAPI("iris", predictor: batching(", batch_wait: full_interval"))).predictor?
                .serverSideBatching?.batchWait == .fullInterval)
    }

    /// An API `name` of `kind` with a batching predictor (`max_batch_size: 4, batch_interval: 10ms`
    /// and `extra` lines in the section); `server_side_batching:` is on line 6.
    private func batchingAPI(_ name: String, kind: String, extra: String = "") -> String {
        """
        - name: \(name)
          kind: \(kind)
          predictor:
            type: python
            path: p.py
            server_side_batching:
              max_batch_size: 4
              batch_interval: 10ms\(extra)
        """
    }

    @Test func serverSideBatchingOnAQueueKindIsRefusedNamingTheKind() {
        let yaml = { (kind: String) in batchingAPI("q", kind: kind) }
        #expect(
            configIssues(yaml("AsyncAPI")) == [
                #"tern.yaml:6: api "q": predictor.server_side_batching: server_side_batching applies to a RealtimeAPI only; this API is an AsyncAPI (its workers take one request at a time); remove the section"#
            ])
        #expect(
            configIssues(yaml("BatchAPI")) == [
                #"tern.yaml:6: api "q": predictor.server_side_batching: server_side_batching applies to a RealtimeAPI only; this API is a BatchAPI (predict already gets a batch of items from each job, batch_size of them when you submit it); remove the section"#
            ])
        #expect(configIssues(yaml("TaskAPI")).count == 1)
        #expect(configIssues(yaml("RealtimeAPI")).isEmpty)
    }

    @Test func unknownBatchWaitNamesAPIKeyLineAndAllowedValues() {
        let yaml = { (wait: String) in batchingAPI("iris", kind: "RealtimeAPI", extra: "\n      batch_wait: \(wait)") }
        #expect(
            configIssues(yaml("fixed")) == [
                #"tern.yaml:9: api "iris": predictor.server_side_batching.batch_wait: "fixed" is not a batch wait (allowed: adaptive, full_interval)"#
            ])
        #expect(
            configIssues(yaml("full-interval")) == [
                #"tern.yaml:9: api "iris": predictor.server_side_batching.batch_wait: "full-interval" is not a batch wait (did you mean "full_interval"?)"#
            ])
        #expect(
            configIssues(yaml("[adaptive]")) == [
                #"tern.yaml:9: api "iris": predictor.server_side_batching.batch_wait: expected a string, got a list"#
            ])
    }

    @Test func batchLargerThanMaxConcurrencyIsRejected() {
        let yaml = realtimeAPI(
            "iris",
            predictor: "{type: python, path: p.py, server_side_batching: {max_batch_size: 32, batch_interval: 50ms}}",
            "  autoscaling: {max_replica_concurrency: 16, target_replica_concurrency: 1}")
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:3: api "iris": predictor.server_side_batching.max_batch_size: 32 must not exceed autoscaling.max_replica_concurrency (16): a batch is sent to one replica"#
            ])
    }

    @Test func percentagesAboveHundredAndNegativeCountsAreRejected() {
        #expect(
            configIssues(realtimeAPI("iris", "  update_strategy: {max_surge: 150%, max_unavailable: -1}")) == [
                #"tern.yaml:4: api "iris": update_strategy.max_surge: "150%" is more than 100%"#,
                #"tern.yaml:4: api "iris": update_strategy.max_unavailable: "-1" is negative; give 0 or more"#,
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  update_strategy: {max_surge: lots}")) == [
                #"tern.yaml:4: api "iris": update_strategy.max_surge: "lots" is not a replica count: give a number of replicas (e.g. 1) or a percentage of the desired replicas (e.g. 25%)"#
            ])
    }

    @Test func surgeAndUnavailableBothZeroIsRejected() {
        #expect(
            configIssues(realtimeAPI("iris", "  update_strategy:\n    max_surge: 0\n    max_unavailable: 0%")) == [
                #"tern.yaml:6: api "iris": update_strategy.max_unavailable: update_strategy.max_surge and update_strategy.max_unavailable must not both be 0: a rolling update could not replace any replica"#
            ])
    }

    @Test func anInvalidKeyIsNotReportedAgainByARelation() {
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {min_replicas: 150, max_replicas: x}")) == [
                #"tern.yaml:4: api "iris": autoscaling.max_replicas: expected an integer, got string "x""#
            ])
    }
}
