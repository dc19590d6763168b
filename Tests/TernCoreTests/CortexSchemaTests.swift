import Foundation
import Testing

@testable import TernCore

/// How Cortex-shaped configs (0.20–0.35, and the 0.36+ `pod:` form) are read: keys that change
/// nothing here are warnings naming file, line, API and key; older names of Tern's keys are
/// accepted; schemas Tern cannot run get one error that says what to write instead.
struct CortexSchemaTests {
    private func warnings(_ yaml: String) throws -> [String] {
        try ConfigLoader.load(yaml: yaml, fileName: "cortex.yaml").warnings.map(\.description)
    }

    /// C7: Cortex keys for its cluster load, each with one warning saying why it has no effect.
    @Test func cortexClusterKeysAreWarningsNotErrors() throws {
        let yaml = """
            - name: iris
              kind: RealtimeAPI
              predictor:
                type: python
                path: p.py
                image: quay.io/cortexlabs/python-predictor-cpu:0.25.0
                tensorflow_serving_image: quay.io/cortexlabs/tensorflow-serving-cpu:0.25.0
                log_level: info
                shm_size: 1Gi
                dependencies: {pip: requirements.txt}
                models: {path: m, signature_key: serving_default}
              networking: {api_gateway: public}
              compute: {cpu: 1, inf: 1}

            """
        let spec = try ConfigLoader.load(yaml: yaml, fileName: "cortex.yaml").apis[0]
        #expect(spec.name == "iris")
        #expect(spec.compute.cpuMillicores == 1000)
        #expect(spec.predictor?.models?.source == .path("m"))
        let noEffect = "has no effect in Tern (a Cortex setting): "
        #expect(
            try warnings(yaml) == [
                #"cortex.yaml:6: api "iris": predictor.image: "# + noEffect
                    + "replicas run in a Python process, not a container image; list packages in requirements.txt "
                    + "(installed at deploy) and choose the interpreter with `tern up --python`",
                #"cortex.yaml:7: api "iris": predictor.tensorflow_serving_image: "# + noEffect
                    + "there is no TensorFlow Serving container; Tern serves python and onnx predictors",
                #"cortex.yaml:8: api "iris": predictor.log_level: "# + noEffect
                    + "replicas' output is kept whole at every level; read it with `tern logs`",
                #"cortex.yaml:9: api "iris": predictor.shm_size: "# + noEffect
                    + "replicas are processes on this machine and share its /dev/shm",
                #"cortex.yaml:10: api "iris": predictor.dependencies: "# + noEffect
                    + "Tern installs the project's requirements.txt at deploy; conda and shell steps are not run",
                #"cortex.yaml:11: api "iris": predictor.models.signature_key: "# + noEffect
                    + "it picks a TensorFlow signature; Tern serves python and onnx predictors",
                #"cortex.yaml:12: api "iris": networking.api_gateway: "# + noEffect
                    + "there is no AWS API Gateway; Tern's gateway serves the endpoint on its own port",
                #"cortex.yaml:13: api "iris": compute.inf: "# + noEffect
                    + "there are no AWS Inferentia chips here; replicas run on CPU (and compute.gpu GPUs)",
            ])
    }

    /// A config without Cortex-only keys has no warnings, and a misspelt Cortex key is still an
    /// error (it is not a known key).
    @Test func plainConfigsHaveNoWarningsAndMisspeltKeysStayErrors() throws {
        #expect(try warnings(realtimeAPI()) == [])
        let misspelt = configIssues(realtimeAPI(predictor: "{type: python, path: p.py, imgae: x}"))
        #expect(misspelt.count == 1)
        #expect(misspelt.first?.hasPrefix(#"tern.yaml:3: api "iris": predictor.imgae: unknown key"#) == true)
    }

    /// Cortex 0.20's `predictor.model_path` is the one-model form of `models.path`.
    @Test func modelPathIsTheOneModelFormOfModelsPath() throws {
        let spec = try loadSingleAPI(realtimeAPI(predictor: "{type: onnx, path: p.py, model_path: model.onnx}"))
        #expect(spec.predictor?.models == ModelsSpec(source: .path("model.onnx")))
        let url = try loadSingleAPI(realtimeAPI(predictor: "{type: python, path: p.py, model_path: s3://b/m}"))
        #expect(url.predictor?.models?.source == .path("s3://b/m"))
    }

    /// `model_path` with `models` mixes two schemas: one error naming both.
    @Test func modelPathWithModelsIsOneErrorNamingBoth() {
        #expect(
            configIssues(realtimeAPI(predictor: "{type: python, path: p.py, model_path: a, models: {path: b}}")) == [
                #"tern.yaml:3: api "iris": predictor.model_path: cannot be combined with predictor.models: "#
                    + "model_path is Cortex 0.20's one-model form of models.path; keep one"
            ])
        #expect(
            configIssues(realtimeAPI(predictor: "{type: python, path: p.py, model_path: /abs}")) == [
                #"tern.yaml:3: api "iris": predictor.model_path: "/abs" must be relative to the project directory (the directory of the config file)"#
            ])
    }

    /// Cortex 0.34–0.35's `handler:` is read as `predictor:`.
    @Test func handlerIsReadAsPredictor() throws {
        let yaml = """
            - name: iris
              kind: RealtimeAPI
              handler:
                type: python
                path: handler.py
                config: {threshold: 0.5}

            """
        let spec = try loadSingleAPI(yaml)
        #expect(spec.predictor?.path == "handler.py")
        #expect(spec.predictor?.config == .object(["threshold": .number(0.5)]))
        #expect(
            configIssues(yaml.replacingOccurrences(of: "path: handler.py", with: "path: handler.txt")) == [
                #"tern.yaml:5: api "iris": predictor.path: "handler.txt" must be a Python file ending in .py"#
            ])
    }

    /// `handler:` and `predictor:` in one API: one error naming both.
    @Test func handlerWithPredictorIsOneErrorNamingBoth() {
        let yaml = realtimeAPI(predictor: "{type: python, path: p.py}", "  handler: {type: python, path: h.py}")
        #expect(
            configIssues(yaml) == [
                #"tern.yaml:4: api "iris": handler: cannot be combined with predictor: handler is Cortex 0.34's name for the same section; keep one"#
            ])
    }

    /// A Cortex 0.36+ `pod:` spec gets one error saying what it is and what to write instead, not
    /// "unknown key" plus "predictor is missing".
    @Test func podSpecIsOneErrorSayingWhatToWriteInstead() {
        let yaml = """
            - name: text-generator
              kind: RealtimeAPI
              pod:
                port: 8080
                containers:
                  - name: api
                    image: quay.io/cortexlabs-test/realtime-text-generator-cpu:0.42.0
                    readiness_probe: {http_get: {path: /healthz, port: 8080}}
              compute: {cpu: 1, mem: 2.5G}

            """
        let issues = configIssues(yaml)
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix(#"tern.yaml:3: api "text-generator": pod: a pod spec is Cortex 0.36+'s form"#) == true)
        #expect(issues.first?.contains("predictor: {type: python, path: predictor.py}") == true)
        #expect(issues.first?.contains("cannot be combined") == false)
        let mixed = configIssues(yaml.replacingOccurrences(of: "  pod:\n", with: "  predictor: {type: python, path: p.py}\n  pod:\n"))
        #expect(mixed.count == 1)
        #expect(mixed.first?.hasSuffix("It cannot be combined with predictor: keep one.") == true)
    }

    /// A Cortex TaskAPI's `definition:` is its code: read as a Python predictor section.
    @Test func taskAPIDefinitionIsItsPredictor() throws {
        let yaml = """
            - name: trainer
              kind: TaskAPI
              definition:
                path: task.py
                config: {epochs: 3}
              compute: {cpu: 1}

            """
        let spec = try loadSingleAPI(yaml)
        #expect(spec.kind == .taskAPI)
        #expect(spec.predictor?.path == "task.py")
        #expect(spec.predictor?.type == .python)
        #expect(spec.predictor?.config == .object(["epochs": .number(3)]))
        let both = configIssues(yaml.replacingOccurrences(of: "  compute:", with: "  predictor: {type: python, path: p.py}\n  compute:"))
        #expect(both == [#"tern.yaml:3: api "trainer": definition: cannot be combined with predictor: a TaskAPI's code is its definition: {path: task.py}; keep one"#])
        // `predictor:` in place of `definition:` reads the same, type defaulting to python too.
        let predictor = try loadSingleAPI(yaml.replacingOccurrences(of: "  definition:", with: "  predictor:"))
        #expect(predictor.predictor?.path == "task.py")
        #expect(predictor.predictor?.type == .python)
        // The task's file is required.
        let noPath = configIssues(yaml.replacingOccurrences(of: "    path: task.py\n", with: ""))
        #expect(noPath.count == 1 && noPath[0].contains("path"), "\(noPath)")
        let none = configIssues("- name: trainer\n  kind: TaskAPI\n")
        #expect(none.count == 1 && none[0].contains("predictor"), "\(none)")
    }

    /// `compute.mem` is a request and `compute.mem_limit` the limit (Kubernetes' split); a limit
    /// below the request is refused.
    @Test func memoryRequestAndLimitAreApart() throws {
        let request = try loadSingleAPI(realtimeAPI("iris", "  compute: {mem: 100M}"))
        #expect(request.compute.memBytes == 100_000_000)
        #expect(request.compute.memLimitBytes == nil)
        let both = try loadSingleAPI(realtimeAPI("iris", "  compute: {mem: 128Mi, mem_limit: 1Gi}"))
        #expect(both.compute.memBytes == 128 << 20)
        #expect(both.compute.memLimitBytes == 1 << 30)
        #expect(
            configIssues(realtimeAPI("iris", "  compute: {mem: 1Gi, mem_limit: 512Mi}")) == [
                #"tern.yaml:4: api "iris": compute.mem_limit: 512Mi must be at least compute.mem (1Gi): the limit cannot be below the memory reserved"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  compute: {mem_limit: 1Mi}")) == [
                #"tern.yaml:4: api "iris": compute.mem_limit: must be between 20Mi and 1Pi (got 1Mi)"#
            ])
    }
}
