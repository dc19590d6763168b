import TernCore
import Testing

/// Each kind of mistake gives one exact message with file, line, API and key path.
@Suite struct ConfigErrorMessageTests {
    @Test func cpuThatIsNotAQuantityNamesFileLineAPIAndKey() {
        #expect(
            configIssues(realtimeAPI("iris", "  compute:\n    gpu: 0\n    cpu: two")) == [
                #"tern.yaml:6: api "iris": compute.cpu: "two" is not a CPU quantity (examples: 200m, 0.5, 2)"#
            ])
    }

    @Test func wrongTypeSaysWhatWasExpectedAndWhatWasFound() {
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {max_replicas: abc}")) == [
                #"tern.yaml:4: api "iris": autoscaling.max_replicas: expected an integer, got string "abc""#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {max_replicas: 2.5}")) == [
                #"tern.yaml:4: api "iris": autoscaling.max_replicas: expected an integer, got number 2.5"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  compute: [cpu, 1]")) == [
                #"tern.yaml:4: api "iris": compute: expected a mapping, got a list"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", predictor: "{type: python, path: p.py, env: {DEBUG: [1]}}")) == [
                #"tern.yaml:3: api "iris": predictor.env.DEBUG: expected a string, got a list"#
            ])
    }

    @Test func outOfRangeValueStatesTheAllowedRange() {
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {max_replicas: 0}")) == [
                #"tern.yaml:4: api "iris": autoscaling.max_replicas: must be between 1 and 1000 (got 0)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {min_replicas: -1}")) == [
                #"tern.yaml:4: api "iris": autoscaling.min_replicas: must be between 0 and 1000 (got -1)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {max_downscale_factor: 1}")) == [
                #"tern.yaml:4: api "iris": autoscaling.max_downscale_factor: must be at least 0 and less than 1 (got 1)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {max_upscale_factor: 0.5}")) == [
                #"tern.yaml:4: api "iris": autoscaling.max_upscale_factor: must be greater than 1 and at most 100 (got 0.5)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {window: 0s}")) == [
                #"tern.yaml:4: api "iris": autoscaling.window: must be greater than 0s and at most 24h (got 0s)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  compute: {cpu: 10m, mem: 1Mi}")) == [
                #"tern.yaml:4: api "iris": compute.cpu: must be between 20m and 1024 (got 10m)"#,
                #"tern.yaml:4: api "iris": compute.mem: must be between 20Mi and 1Pi (got 1Mi)"#,
            ])
        #expect(
            configIssues(realtimeAPI("iris", predictor: "{type: python, path: p.py, threads_per_process: 2000}")) == [
                #"tern.yaml:3: api "iris": predictor.threads_per_process: must be between 1 and 1024 (got 2000)"#
            ])
    }

    @Test func badDurationSaysWhy() {
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {window: 10}")) == [
                #"tern.yaml:4: api "iris": autoscaling.window: "10" has no unit (examples: 10ms, 60s, 5m, 1h30m)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  networking: {request_timeout: -5s}")) == [
                #"tern.yaml:4: api "iris": networking.request_timeout: "-5s" is negative; a duration must be at least 0s"#
            ])
    }

    @Test func unknownKeySuggestsTheClosestKey() {
        #expect(
            configIssues(realtimeAPI("iris", "  compute:\n    cpus: 1")) == [
                #"tern.yaml:5: api "iris": compute.cpus: unknown key (did you mean "cpu"?)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  autoscaling: {maxReplicas: 3}")) == [
                #"tern.yaml:4: api "iris": autoscaling.maxReplicas: unknown key (did you mean "max_replicas"?)"#
            ])
    }

    @Test func unknownKeyInTheWrongSectionPointsToItsHome() {
        #expect(
            configIssues(realtimeAPI("iris", "  cpu: 1")) == [
                #"tern.yaml:4: api "iris": cpu: unknown key here (did you mean "compute.cpu"?)"#
            ])
    }

    @Test func unknownKeyWithNothingCloseListsTheAllowedKeys() {
        #expect(
            configIssues(realtimeAPI("iris", "  compute: {disk: 10Gi}")) == [
                #"tern.yaml:4: api "iris": compute.disk: unknown key (allowed: cpu, gpu, mem, mem_limit)"#
            ])
    }

    @Test func enumValueSuggestsTheClosestValue() {
        #expect(
            configIssues("- name: iris\n  kind: RealtimeApi\n  predictor: {type: python, path: p.py}") == [
                #"tern.yaml:2: api "iris": kind: "RealtimeApi" is not a kind of API (did you mean "RealtimeAPI"?)"#
            ])
        #expect(
            configIssues("- name: iris\n  kind: RealtimeAPI\n  predictor: {type: tensorflow, path: p.py}") == [
                #"tern.yaml:3: api "iris": predictor.type: "tensorflow" is not a predictor type (allowed: python, onnx)"#
            ])
    }

    @Test func missingRequiredKeysAreNamed() {
        #expect(
            configIssues("- name: iris\n  predictor:\n    type: python") == [
                #"tern.yaml:1: api "iris": kind: required key is missing (RealtimeAPI, BatchAPI, AsyncAPI, TaskAPI, TrafficSplitter)"#,
                #"tern.yaml:2: api "iris": predictor.path: required key is missing (the Python file that defines the predictor, e.g. predictor.py)"#,
            ])
        #expect(
            configIssues("- kind: RealtimeAPI\n  predictor: {type: python, path: p.py}") == [
                #"tern.yaml:1: name: required key is missing (a DNS-1035 label such as "iris")"#
            ])
        #expect(
            configIssues("- name: iris\n  kind: RealtimeAPI") == [
                #"tern.yaml:1: api "iris": predictor: required key is missing (e.g. predictor: {type: python, path: predictor.py})"#
            ])
    }

    @Test func predictorPathMustBeARelativePythonFile() {
        func issues(_ path: String) -> [String] {
            configIssues("- name: iris\n  kind: RealtimeAPI\n  predictor: {type: python, path: \(path)}")
        }
        #expect(
            issues("/abs/p.py") == [
                #"tern.yaml:3: api "iris": predictor.path: "/abs/p.py" must be relative to the project directory (the directory of the config file)"#
            ])
        #expect(
            issues("../p.py") == [
                #"tern.yaml:3: api "iris": predictor.path: "../p.py" must stay inside the project directory (no "..")"#
            ])
        #expect(
            issues("model.pkl") == [
                #"tern.yaml:3: api "iris": predictor.path: "model.pkl" must be a Python file ending in .py"#
            ])
    }

    @Test func severalErrorsAreReportedTogetherInFileOrder() {
        let yaml = """
            - name: iris
              kind: RealtimeAPI
              predictor: {type: python, path: p.py}
              compute: {cpu: lots}
              autoscaling:
                min_replicas: 5
                max_replicas: 2
            - name: My_API
              kind: RealtimeAPI
              predictor: {type: python, path: p.py, processes: 2}
            """
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:4: api "iris": compute.cpu: "lots" is not a CPU quantity (examples: 200m, 0.5, 2)"#,
                #"tern.yaml:6: api "iris": autoscaling.min_replicas: 5 must not exceed autoscaling.max_replicas (2)"#,
                #"tern.yaml:8: api "My_API": name: "My_API" is not a valid API name: upper-case letters are not allowed; an API name is a DNS-1035 label: lower-case letters, digits and "-", starting with a letter, ending with a letter or digit, at most 63 characters"#,
                #"tern.yaml:10: api "My_API": predictor.processes: unknown key (allowed: type, path, config, python_path, env, processes_per_replica, threads_per_process, server_side_batching, models, multi_model_reloading)"#,
            ])
    }

    @Test func configErrorDescriptionHasOneLinePerIssue() {
        do {
            _ = try ConfigLoader.load(
                yaml: realtimeAPI("iris", "  compute: {cpu: x, gpu: -1}"), fileName: "cortex.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(
                error.description == """
                    cortex.yaml:4: api "iris": compute.cpu: "x" is not a CPU quantity (examples: 200m, 0.5, 2)
                    cortex.yaml:4: api "iris": compute.gpu: must be between 0 and 64 (got -1)
                    """)
            #expect(
                error.issues[1]
                    == ConfigIssue(
                        file: "cortex.yaml", line: 4, api: "iris", keyPath: "compute.gpu",
                        message: "must be between 0 and 64 (got -1)"))
        }
    }

    @Test func yamlSyntaxErrorIsReportedWithItsLine() {
        let issues = configIssues("- name: iris\n  kind: RealtimeAPI\n  predictor: {type: python, path: p.py\n")
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix("tern.yaml:4: YAML syntax error:") == true)
    }

    @Test func duplicateYAMLKeyIsReported() {
        #expect(
            configIssues("- name: iris\n  name: other\n  kind: RealtimeAPI") == [
                #"tern.yaml:1: YAML error: the key "name" appears more than once in the same mapping"#
            ])
    }

    @Test func emptyFileOrNonListIsAClearError() {
        #expect(
            configIssues("") == [
                #"tern.yaml:1: expected a list of APIs, each starting with "- name:"; the file is empty"#
            ])
        #expect(
            configIssues("# only a comment\n") == [
                #"tern.yaml:1: expected a list of APIs, each starting with "- name:"; the file is empty"#
            ])
        #expect(
            configIssues("[]") == [
                #"tern.yaml:1: expected a list of APIs, each starting with "- name:"; the list is empty"#
            ])
        #expect(
            configIssues("name: iris\nkind: RealtimeAPI") == [
                #"tern.yaml:1: expected a list of APIs, each starting with "- name:", got a mapping (start the API with "- ")"#
            ])
        #expect(configIssues("- just a string") == [#"tern.yaml:1: expected a mapping, got string "just a string""#])
    }

    @Test func duplicateNamesAndEndpointsInOneFileAreErrors() {
        let yaml = realtimeAPI("iris") + realtimeAPI("iris") + realtimeAPI("other", "  networking: {endpoint: /iris}")
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:5: api "iris": name: "iris" is already the name of the API on line 1; API names must be unique"#,
                #"tern.yaml:5: api "iris": networking.endpoint: "/iris" is already the endpoint of api "iris" (line 1); endpoints must be unique"#,
                #"tern.yaml:12: api "other": networking.endpoint: "/iris" is already the endpoint of api "iris" (line 1); endpoints must be unique"#,
            ])
    }

    @Test func invalidEndpointExplainsTheRule() {
        #expect(
            configIssues(realtimeAPI("iris", "  networking: {endpoint: /v1/iris}")) == [
                #"tern.yaml:4: api "iris": networking.endpoint: "/v1/iris" is not a valid endpoint: a URL path such as /iris or /models/iris, made of letters, digits, "-", "_", "." and "~", not starting with a path of Tern's own (healthz, metrics, readyz, v1, v2)"#
            ])
        #expect(configIssues(realtimeAPI("iris", "  networking: {endpoint: a//b}")).count == 1)
        #expect(configIssues(realtimeAPI("iris", "  networking: {endpoint: /}")).count == 1)
        #expect(configIssues(realtimeAPI("iris", "  networking: {endpoint: a b}")).count == 1)
    }

    @Test func configThatJSONCannotHoldIsRejected() {
        let yaml =
            "- name: iris\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: p.py\n    config: {big: 12345678901234567890, bad: .nan}"
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:6: api "iris": predictor.config.big: 12345678901234567890 is too large to be kept exactly (at most 2^53); quote it to pass a string"#,
                #"tern.yaml:6: api "iris": predictor.config.bad: .nan cannot be represented in JSON; quote it to pass a string"#,
            ])
    }

    @Test func envNamesMustBeValidAndNotReserved() {
        let yaml =
            "- name: iris\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: p.py\n    env:\n      1BAD: x\n      TERN_PORT: 1"
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:7: api "iris": predictor.env.1BAD: "1BAD" is not a valid environment variable name (letters, digits and "_", not starting with a digit)"#,
                #"tern.yaml:8: api "iris": predictor.env.TERN_PORT: names starting with TERN_ are reserved for Tern"#,
            ])
    }

    @Test func splitterKeysOnARealtimeAPIAndPredictorOnASplitterAreExplained() {
        #expect(
            configIssues(realtimeAPI("iris", "  apis: [{name: a, weight: 100}]")) == [
                #"tern.yaml:4: api "iris": apis: only a TrafficSplitter has "apis"; this API is a RealtimeAPI"#
            ])
        #expect(
            configIssues(
                "- name: split\n  kind: TrafficSplitter\n  compute: {cpu: 1}\n  apis: [{name: a, weight: 100}]") == [
                    #"tern.yaml:3: api "split": compute: a TrafficSplitter has no "compute" (allowed: name, kind, networking, apis)"#
                ])
    }
}
