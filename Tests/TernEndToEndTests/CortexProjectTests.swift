import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// Cortex-shaped projects deploy without edits (issue 12): older key names are read as
    /// today's and keys for Cortex's cluster are warnings, not errors.
    @Suite(.serialized, .sharedServer())
    struct CortexProjects {
        @Test("a Cortex 0.34 project (handler:, image, log_level, shm_size, api_gateway, inf) deploys with one warning per key and answers")
        func cortexProjectWithClusterKeysDeploysWithWarnings() async throws {
            let server = try Shared.require()
            let config = TestEnvironment.fixture("cortex-handler").appendingPathComponent("cortex.yaml")
            let result = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(result.status == 0, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
            let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("warning: ") }
            #expect(warnings.count == 5, "stderr: \(result.stderr)")
            for (line, key) in [
                (10, "predictor.image"), (11, "predictor.log_level"), (12, "predictor.shm_size"),
                (14, "networking.api_gateway"), (17, "compute.inf"),
            ] {
                #expect(
                    result.stderr.contains(#"warning: cortex.yaml:\#(line): api "cortex-handler": \#(key): has no effect in Tern"#),
                    "stderr: \(result.stderr)")
            }
            let answer = try await server.request("/cortex-handler", body: Data(#"{"name":"ada"}"#.utf8))
            #expect(answer.status == 200)
            #expect(try jsonObject(answer.body)["message"] as? String == "hello, ada")
        }

        @Test("compute.mem is a request as in Cortex: a replica using more serves on, and its log and status say so")
        func memoryRequestIsAReservationNotALimit() async throws {
            let server = try Shared.require()
            let config = try makeProject(
                yaml: """
                    - name: over-request
                      kind: RealtimeAPI
                      predictor:
                        type: python
                        path: predictor.py
                        config: {init_mib: 150}
                      compute: {cpu: 100m, mem: 100M}
                    """, predictorOf: "hog", in: server)
            let deploy = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            var api = try server.api("over-request")
            try await server.waitUntil(timeout: 15, "the status to say the replica is over its request") {
                api = try server.api("over-request")
                return api.message?.contains("over its compute.mem request of 100M") == true
            }
            #expect(api.status == .live)
            #expect(api.message?.contains("compute.mem is a reservation, not a limit") == true, "message: \(api.message ?? "nil")")
            let answer = try await server.request("/over-request", body: try json(["mib": 1]))
            #expect(answer.status == 200, "body: \(answer.body)")
            let logs = try server.tern("logs", "over-request").stdout
            let line = logs.split(separator: "\n").first { $0.contains("over its compute.mem request of 100M") } ?? ""
            #expect(line.contains(" tern | replica over-request-"), "logs: \(logs)")
            #expect(line.contains("it keeps serving"), "line: \(line)")
            #expect(try server.api("over-request").replicas.first?.restarts == 0)
            #expect(try server.tern("delete", "over-request").status == 0)
        }

        @Test("Cortex 0.20's ONNX iris project (model_path, an ONNXPredictor passing one flat row) answers as scikit-learn does")
        func cortexONNXPredictorWithAFlatRow() async throws {
            let server = try Shared.require()
            let directory = try scratchDirectory(in: server)
            let training = try runCommand(
                TestEnvironment.python,
                [TestEnvironment.packageRoot.appendingPathComponent("examples/onnx-iris/train.py").path, "model.onnx"],
                directory: directory)
            try #require(training.status == 0, "train.py: \(training.stdout)\(training.stderr)")
            try """
                # Cortex 0.20's examples/onnx/iris-classifier predictor, as its docs show it.
                labels = ["setosa", "versicolor", "virginica"]


                class ONNXPredictor:
                    def __init__(self, onnx_client, config):
                        self.client = onnx_client

                    def predict(self, payload):
                        model_input = [
                            payload["sepal_length"],
                            payload["sepal_width"],
                            payload["petal_length"],
                            payload["petal_width"],
                        ]
                        prediction = self.client.predict(model_input)
                        predicted_class_id = prediction[0][0]
                        return labels[predicted_class_id]
                """.write(to: directory.appendingPathComponent("predictor.py"), atomically: true, encoding: .utf8)
            try """
                - name: iris-onnx
                  kind: RealtimeAPI
                  predictor:
                    type: onnx
                    path: predictor.py
                    model_path: model.onnx
                  compute:
                    cpu: 200m
                    mem: 100M
                """.write(to: directory.appendingPathComponent("cortex.yaml"), atomically: true, encoding: .utf8)
            let deploy = try server.tern("deploy", directory.appendingPathComponent("cortex.yaml").path, "--timeout", "90")
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let cases = [
                (#"{"sepal_length": 5.2, "sepal_width": 3.6, "petal_length": 1.4, "petal_width": 0.3}"#, "setosa"),
                (#"{"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}"#, "versicolor"),
                (#"{"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}"#, "virginica"),
            ]
            for (payload, label) in cases {
                let answer = try await server.request("/iris-onnx", body: Data(payload.utf8))
                #expect(answer.status == 200, "body: \(answer.body)")
                #expect(answer.body == label || answer.body == "\"\(label)\"", "body: \(answer.body)")
            }
            #expect(try server.tern("delete", "iris-onnx").status == 0)
        }

        @Test("cache sizes count versions as in Cortex: one model with 3 versions, cache_size 1 and disk_cache_size 2 deploys and serves each version")
        func cacheSizesCountVersions() async throws {
            let server = try Shared.require()
            let outside = try scratchDirectory(in: server)
            for version in 1...3 {
                let file = outside.appendingPathComponent("m/\(version)/model.json")
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try #"{"answer": "v\#(version)"}"#.write(to: file, atomically: true, encoding: .utf8)
            }
            let config = try makeProject(
                yaml: """
                    - name: versioned
                      kind: RealtimeAPI
                      predictor:
                        type: python
                        path: predictor.py
                        models:
                          path: file://\(outside.path)/m
                          cache_size: 1
                          disk_cache_size: 2
                    """, predictorOf: "models-multi", in: server)
            let deploy = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            var loads: [Int] = []
            for version in [1, 2, 3, 1, 3] {
                let answer = try await server.request("/versioned?version=\(version)", body: Data("{}".utf8))
                #expect(answer.status == 200, "body: \(answer.body)")
                let body = try jsonObject(answer.body)
                #expect(body["answer"] as? String == "v\(version)")
                loads.append(body["loads"] as? Int ?? -1)
            }
            // Room for one version in memory: every switch loads.
            #expect(loads == [1, 2, 3, 4, 5], "\(loads)")
            #expect(try server.tern("delete", "versioned").status == 0)
        }

        @Test("a Cortex 0.25 predictor returning Starlette responses (without Starlette installed) gets their status, fields and body; post_predict runs after the answer")
        func starletteResponsesPassThroughAndPostPredictRunsAfter() async throws {
            let server = try Shared.require()
            let config = TestEnvironment.fixture("cortex-responses").appendingPathComponent("cortex.yaml")
            let deploy = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            func ask(_ action: String) async throws -> (status: Int, headers: [String: String], body: String) {
                try await server.request("/responses", body: try json(["action": action]))
            }
            let started = Date()
            let created = try await ask("created")
            let latency = Date().timeIntervalSince(started)
            #expect(created.status == 201)
            #expect(created.headers["location"] == "/items/7")
            #expect(created.headers["x-model-version"] == "3")
            #expect(created.headers["content-type"] == "application/json")
            #expect(created.headers["x-request-id"]?.isEmpty == false)
            #expect(try jsonObject(created.body)["name"] as? String == "café")
            #expect(latency < 0.35, "the answer waited for post_predict's 0.4 s: \(latency) s")

            let teapot = try await ask("teapot")
            #expect(teapot.status == 418)
            #expect(teapot.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(teapot.body == "short and stout")

            let bytes = try await ask("bytes")
            #expect(bytes.status == 200)
            #expect(bytes.headers["content-type"] == "application/x-tern-test")
            #expect(bytes.headers["content-length"] == "3")
            #expect(bytes.headers["cache-control"] == "no-store")

            let empty = try await ask("empty")
            #expect(empty.status == 204)
            #expect(empty.body == "")

            let bad = try await ask("bad-status")
            #expect(bad.status == 500)
            #expect(bad.body.contains(#""kind":"invalid_response""#), "\(bad.body)")
            #expect(bad.body.contains("status_code 99"), "\(bad.body)")

            let which = try await ask("which")
            #expect(which.body == #"{"starlette.responses":null}"#)

            // One thread: history waits for the slot until every earlier post_predict is done.
            let history = try await ask("history")
            let seen = try #require(try jsonObject(history.body)["post_predict"] as? [[String: Any]])
            #expect(seen.map { $0["action"] as? String } == ["created", "teapot", "bytes", "empty", "which"])
            #expect(seen.map { $0["status"] as? Int } == [201, 418, 200, 204, 200])
            #expect(try server.api("responses").replicas.first?.restarts == 0)
            #expect(try server.tern("delete", "responses").status == 0)
        }

        @Test("a Cortex 0.36+ pod: spec is refused with one error that says what to write instead")
        func podSpecIsRefusedWithOneError() async throws {
            let server = try Shared.require()
            let directory = try scratchDirectory(in: server)
            let config = directory.appendingPathComponent("cortex.yaml")
            try """
                - name: text-generator
                  kind: RealtimeAPI
                  pod:
                    containers:
                      - name: api
                        image: quay.io/cortexlabs-test/realtime-text-generator-cpu:0.42.0
                """.write(to: config, atomically: true, encoding: .utf8)
            let result = try server.tern("deploy", config.path)
            #expect(result.status != 0)
            #expect(result.stderr.contains(#"cortex.yaml:3: api "text-generator": pod: a pod spec is Cortex 0.36+'s form"#), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("unknown key"), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("required key is missing"), "stderr: \(result.stderr)")
        }
    }
}
