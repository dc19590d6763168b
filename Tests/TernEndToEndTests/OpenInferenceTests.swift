import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// The Open Inference Protocol (KServe v2) under `/v2`, checked with the official client
    /// `tritonclient[http]` (script `Tests/fixtures/open-inference/triton_client.py`, run with the
    /// test Python) on the ONNX example `onnx-iris` and the Python predictor `v2-python`
    /// (`predict` answers `sum` of each row of `x` and `count` of rows), and with raw HTTP.
    @Suite(.serialized, .sharedServer())
    struct OpenInference {
        private static let deployed = PerServer<ONNXIrisProject.Prepared>()

        private func deployed() async throws -> (TestServer, ONNXIrisProject.Prepared) {
            let server = try Shared.require()
            let project = try await Self.deployed.value(for: server) {
                let project = try await ONNXIrisProject.deploy(on: server)
                for fixture in ["v2-python", "v2-untyped"] {
                    try deployFixture(fixture, on: server)
                    try await server.waitUntilLive(fixture)
                }
                return project
            }
            return (server, project)
        }

        /// Runs the tritonclient script once per server and returns its JSON document.
        private static let clientRuns = PerServer<String>()

        private func tritonResults() async throws -> [String: Any] {
            let (server, project) = try await deployed()
            let output = try await Self.clientRuns.value(for: server) {
                let script = TestEnvironment.fixture("open-inference").appendingPathComponent("triton_client.py").path
                let host = server.gatewayURL.replacingOccurrences(of: "http://", with: "")
                let run = try runCommand(TestEnvironment.python, [script, host, project.directory.path])
                guard run.status == 0 else { throw TestFailure("triton_client.py failed (\(run.status)):\n\(run.stderr)") }
                return run.stdout
            }
            return try jsonObject(output)
        }

        @Test("tritonclient reads server liveness, readiness and metadata")
        func serverMetadata() async throws {
            let results = try await tritonResults()
            #expect(results["server_live"] as? Bool == true)
            #expect(results["server_ready"] as? Bool == true)
            let metadata = try #require(results["server_metadata"] as? [String: Any])
            #expect(metadata["name"] as? String == "tern")
            #expect(metadata["version"] as? String == ternVersion)
            #expect(metadata["extensions"] as? [String] == ["binary_tensor_data"])
        }

        @Test("tritonclient reads the ONNX model's metadata from the session's signatures")
        func onnxMetadata() async throws {
            let results = try await tritonResults()
            #expect(results["onnx_ready"] as? Bool == true)
            let metadata = try json(try #require(results["onnx_metadata"]))
            #expect(
                String(decoding: metadata, as: UTF8.self)
                    == #"{"inputs":[{"datatype":"FP32","name":"input","shape":[-1,4]}],"name":"onnx-iris","outputs":[{"datatype":"INT64","name":"label","shape":[-1]},{"datatype":"FP32","name":"probabilities","shape":[-1,3]}],"platform":"onnxruntime_onnx","versions":[]}"#)
        }

        @Test("tritonclient infers the 150 iris rows on the ONNX API, binary and JSON tensors, with scikit-learn's labels")
        func onnxInference() async throws {
            let results = try await tritonResults()
            let expected = try #require(results["sklearn_labels"] as? [Int])
            #expect(expected.count == 150)
            for form in ["onnx_binary", "onnx_json"] {
                let answer = try #require(results[form] as? [String: Any], "\(form)")
                #expect(answer["label"] as? [Int] == expected, "\(form)")
                #expect(answer["probabilities_shape"] as? [Int] == [150, 3], "\(form)")
                #expect(answer["probabilities_dtype"] as? String == "float32", "\(form)")
                #expect(answer["row_sums_close_to_1"] as? Bool == true, "\(form)")
                #expect(answer["model_name"] as? String == "onnx-iris", "\(form)")
            }
        }

        @Test("tritonclient reads a Python predictor's declared metadata and infers through the adapter")
        func pythonPredictorInference() async throws {
            let results = try await tritonResults()
            let metadata = try json(try #require(results["python_metadata"]))
            #expect(
                String(decoding: metadata, as: UTF8.self)
                    == #"{"inputs":[{"datatype":"FP32","name":"x","shape":[-1,2]}],"name":"v2-python","outputs":[{"datatype":"FP32","name":"sum","shape":[-1]},{"datatype":"INT64","name":"count","shape":[1]}],"platform":"python","versions":[]}"#)
            for form in ["python_binary", "python_json"] {
                let answer = try #require(results[form] as? [String: Any], "\(form)")
                #expect(answer["sum"] as? [Double] == [3.0, 7.5, 0.0], "\(form)")
                #expect(answer["sum_dtype"] as? String == "float32", "\(form)")
                #expect(answer["count"] as? [Int] == [3], "\(form)")
            }
        }

        @Test("wrong shape and wrong datatype are 400 errors tritonclient shows with what the model expects; an unknown model is 404")
        func badRequestsThroughTheClient() async throws {
            let results = try await tritonResults()
            let shape = try #require(results["wrong_shape"] as? [String: Any])
            #expect(shape["status"] as? String == "400")
            #expect(shape["message"] as? String == "input 'input' has shape [2, 3]; the model expects [-1, 4] (-1: any size)")
            #expect(shape["text"] as? String == "[400] input 'input' has shape [2, 3]; the model expects [-1, 4] (-1: any size)")
            let datatype = try #require(results["wrong_datatype"] as? [String: Any])
            #expect(datatype["status"] as? String == "400")
            #expect(datatype["message"] as? String == "input 'input' has datatype FP64; the model expects FP32")
            let unknown = try #require(results["unknown_model"] as? [String: Any])
            #expect(unknown["status"] as? String == "404")
            #expect((unknown["message"] as? String)?.hasPrefix("no API named no-such-api is deployed") == true, "\(unknown)")
        }

        /// The protocol's error document: `{"error": "<message>", "kind", "api"}`.
        private func v2Error(_ body: String) throws -> (message: String?, kind: String?, api: String?) {
            let document = try jsonObject(body)
            return (document["error"] as? String, document["kind"] as? String, document["api"] as? String)
        }

        @Test("raw HTTP: unknown input, invalid JSON, unknown path, wrong method and unknown model get JSON errors")
        func rawErrors() async throws {
            let (server, _) = try await deployed()
            let unknownInput = try await server.request(
                "/v2/models/onnx-iris/infer",
                body: Data(#"{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"#.utf8))
            #expect(unknownInput.status == 400)
            let error = try v2Error(unknownInput.body)
            #expect(error.message == "unknown input 'features'; the model's inputs are input (FP32 [-1, 4])")
            #expect(error.kind == "invalid_tensor")
            #expect(error.api == "onnx-iris")
            let malformed = try await server.request("/v2/models/onnx-iris/infer", body: Data("{".utf8))
            #expect(malformed.status == 400)
            #expect(try v2Error(malformed.body).kind == "invalid_json")
            let path = try await server.request("/v2/models/onnx-iris/explain", method: "GET", body: nil)
            #expect(path.status == 404)
            #expect(try v2Error(path.body).kind == "not_found")
            let method = try await server.request("/v2/models/onnx-iris/infer", method: "GET", body: nil)
            #expect(method.status == 405)
            #expect(method.headers["allow"] == "POST")
            #expect(try v2Error(method.body).message == "/v2/models/onnx-iris/infer takes POST, not GET (Open Inference Protocol)")
            let unknown = try await server.request("/v2/models/nope/ready", method: "GET", body: nil)
            #expect(unknown.status == 404)
            #expect(try v2Error(unknown.body).kind == "model_not_found")
        }

        @Test("NaN, Infinity and 1e999 in a v2 body are 400 invalid_json, as on the API's own endpoint (JSON-only and binary bodies)")
        func nonJSONNumbers() async throws {
            let (server, _) = try await deployed()
            for literal in ["NaN", "Infinity", "-Infinity", "1e999"] {
                let response = try await server.request(
                    "/v2/models/onnx-iris/infer",
                    body: Data(#"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[\#(literal),1,2,3]}]}"#.utf8))
                #expect(response.status == 400, "\(literal): \(response.body)")
                let error = try v2Error(response.body)
                #expect(error.kind == "invalid_json", "\(literal)")
                #expect(error.api == "onnx-iris")
                let reason = literal == "1e999"
                    ? "number 1e999 is out of the range of a 64-bit float" : "\(literal) is not valid JSON"
                #expect(error.message == "invalid JSON in the inference request: \(reason) at line 1, column 68", "\(response.body)")
            }
            // The JSON part of a binary-extension body is held to the same rule.
            let header = #"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}],"id":NaN}"#
            var body = Data(header.utf8)
            body.append(Data(count: 16))
            let binary = try await server.request(
                "/v2/models/onnx-iris/infer", body: body, contentType: "application/octet-stream",
                headers: [("Inference-Header-Content-Length", String(header.utf8.count))])
            #expect(binary.status == 400, "\(binary.body)")
            #expect(try v2Error(binary.body).kind == "invalid_json")
        }

        @Test("unknown sub-models are 404 for ready, metadata and infer (before the body is checked); a TrafficSplitter's name points to its targets")
        func unknownModelsAndSplitters() async throws {
            let (server, _) = try await deployed()
            for path in ["/v2/models/v2-python.foo/ready", "/v2/models/v2-python.foo", "/v2/models/onnx-iris.foo/ready"] {
                let response = try await server.request(path, method: "GET", body: nil)
                #expect(response.status == 404, "\(path): \(response.body)")
                #expect(try v2Error(response.body).kind == "model_not_found", "\(path)")
                #expect(!response.body.contains(#""ready":true"#), "\(path)")
            }
            let infer = try await server.request("/v2/models/onnx-iris.foo/infer", body: Data("{}".utf8))
            #expect(infer.status == 404, "\(infer.body)")
            #expect(
                try v2Error(infer.body).message
                    == "no model 'onnx-iris.foo': API onnx-iris serves a single model, named 'onnx-iris' in the Open Inference Protocol (<api>.<model> names one of the models of an API with predictor.models paths or dir)")
            let version = try await server.request("/v2/models/onnx-iris/versions/7/ready", method: "GET", body: nil)
            #expect(version.status == 404, "\(version.body)")
            let ready = try await server.request("/v2/models/onnx-iris/ready", method: "GET", body: nil)
            #expect(ready.body == #"{"name":"onnx-iris","ready":true}"#)

            let directory = try scratchDirectory(in: server)
            try SpecYAML.trafficSplitter(name: "v2-split", apis: ["v2-python": 50, "v2-untyped": 50])
                .write(to: directory.appendingPathComponent("tern.yaml"), atomically: true, encoding: .utf8)
            let deploy = try server.tern("deploy", directory.appendingPathComponent("tern.yaml").path)
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            for (path, method) in [("/v2/models/v2-split/ready", "GET"), ("/v2/models/v2-split", "GET"), ("/v2/models/v2-split/infer", "POST")] {
                let response = try await server.request(path, method: method, body: method == "POST" ? Data("{}".utf8) : nil)
                #expect(response.status == 404, "\(path): \(response.body)")
                let error = try v2Error(response.body)
                #expect(error.kind == "model_not_found")
                #expect(
                    error.message
                        == "v2-split is a TrafficSplitter, not a model; the Open Inference Protocol serves its target APIs by name (v2-python, v2-untyped), e.g. /v2/models/v2-python/infer; the weighted split is served at /v2-split",
                    "\(path)")
            }
            #expect(try server.tern("delete", "v2-split").status == 0)
        }

        @Test("a Python predictor without declarations: shapes and datatypes inferred from its answer (output_0)")
        func untypedPythonPredictor() async throws {
            let (server, _) = try await deployed()
            let response = try await server.request(
                "/v2/models/v2-untyped/versions/1/infer",
                body: Data(#"{"id":"q1","inputs":[{"name":"n","shape":[2,2],"datatype":"INT32","data":[[1,2],[3,4]]}]}"#.utf8))
            #expect(response.status == 200, "\(response.body)")
            #expect(
                response.body
                    == #"{"model_name":"v2-untyped","model_version":"1","id":"q1","outputs":[{"name":"output_0","datatype":"INT32","shape":[2,2],"data":[2,4,6,8]}]}"#)
            #expect(response.headers["x-request-id"] != nil)
            let scaled = try await server.request(
                "/v2/models/v2-untyped/infer",
                body: Data(#"{"inputs":[{"name":"n","shape":[2],"datatype":"INT32","data":[1,2]}]}"#.utf8),
                headers: [("X-Scale", "3")])
            #expect(scaled.status == 200, "\(scaled.body)")
            #expect(scaled.body.contains(#""data":[3,6]"#), "the request's headers reach predict: \(scaled.body)")
        }

        @Test("server_side_batching API: a raw v2 JSON request calls predict with a list of one and unwraps the one answer; other answers are 500 invalid_response")
        func batchingPythonPredictor() async throws {
            let (server, _) = try await deployed()
            try deployFixture("v2-batching", on: server)
            try await server.waitUntilLive("v2-batching")

            let response = try await server.request(
                "/v2/models/v2-batching/infer",
                body: Data(#"{"id":"b1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4.5]}]}"#.utf8))
            #expect(response.status == 200, "\(response.body)")
            let document = try jsonObject(response.body)
            #expect(document["model_name"] as? String == "v2-batching")
            #expect(document["id"] as? String == "b1")
            let outputs = try #require(document["outputs"] as? [[String: Any]], "\(response.body)")
            #expect(outputs.map { $0["name"] as? String } == ["sum", "batch"])
            #expect(outputs.map { $0["datatype"] as? String } == ["FP32", "INT64"])
            #expect(outputs.map { $0["shape"] as? [Int] } == [[2], [1]])
            #expect(outputs.first?["data"] as? [Double] == [3, 7.5])
            #expect(outputs.last?["data"] as? [Int] == [1])

            // The API's own endpoint still gets batches (lists) from the same predictor.
            let plain = await LoadClient.post(server.gatewayURL + "/v2-batching", body: Data(#"{"rows":[[1,2],[3,4]]}"#.utf8))
            #expect(plain.status == 200, "\(plain.body)")
            #expect(try jsonObject(plain.body)["sums"] as? [Int] == [3, 7])

            for (first, got) in [("-1", "a dict"), ("-2", "a list of 2 answers")] {
                let broken = try await server.request(
                    "/v2/models/v2-batching/infer",
                    body: Data(#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[\#(first),0]}]}"#.utf8))
                #expect(broken.status == 500, "\(broken.body)")
                let error = try v2Error(broken.body)
                #expect(error.kind == "invalid_response")
                #expect(error.api == "v2-batching")
                #expect(
                    error.message
                        == "predict returned \(got); with server_side_batching, an Open Inference Protocol request calls predict with a list of one payload, and predict must return a list of one answer")
            }
            #expect(try server.tern("delete", "v2-batching").status == 0)
        }

        @Test("an ONNX API with two models: /v2/models/<api>.<model> picks one; the bare API name asks for a model name")
        func severalModels() async throws {
            let (server, project) = try await deployed()
            let directory = try scratchDirectory(in: server).appendingPathComponent("onnx-pair")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in ["first.onnx", "second.onnx"] {
                try FileManager.default.copyItem(
                    at: project.directory.appendingPathComponent("model.onnx"), to: directory.appendingPathComponent(name))
            }
            try SpecYAML.realtime(
                name: "onnx-pair", type: "onnx",
                predictor: [
                    "models": ["paths": [["name": "first", "path": "first.onnx"], ["name": "second", "path": "second.onnx"]]]
                ],
                compute: ["cpu": "100m"]
            ).write(to: directory.appendingPathComponent("tern.yaml"), atomically: true, encoding: .utf8)
            // The example's __init__ calls get_model() without a name, which needs a single model.
            try "class ONNXPredictor:\n    def predict(self, payload):\n        return 1\n"
                .write(to: directory.appendingPathComponent("predictor.py"), atomically: true, encoding: .utf8)
            let deploy = try server.tern("deploy", directory.appendingPathComponent("tern.yaml").path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")

            let bare = try await server.request("/v2/models/onnx-pair", method: "GET", body: nil)
            #expect(bare.status == 404)
            #expect(try v2Error(bare.body).message?.contains("give a model name (models: first, second)") == true, "\(bare.body)")
            let metadata = try await server.request("/v2/models/onnx-pair.second", method: "GET", body: nil)
            #expect(metadata.status == 200, "\(metadata.body)")
            #expect(try jsonObject(metadata.body)["name"] as? String == "onnx-pair.second")
            let infer = try await server.request(
                "/v2/models/onnx-pair.first/infer",
                body: Data(#"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[6.7,3.0,5.2,2.3]}],"outputs":[{"name":"label"}]}"#.utf8))
            #expect(infer.status == 200, "\(infer.body)")
            #expect(infer.body == #"{"model_name":"onnx-pair.first","outputs":[{"name":"label","datatype":"INT64","shape":[1],"data":[2]}]}"#)
            let unknown = try await server.request("/v2/models/onnx-pair.third", method: "GET", body: nil)
            #expect(unknown.status == 404)
            #expect(try v2Error(unknown.body).kind == "model_not_found")
            let ready = try await server.request("/v2/models/onnx-pair.second/ready", method: "GET", body: nil)
            #expect(ready.status == 200, "\(ready.body)")
            #expect(ready.body == #"{"name":"onnx-pair.second","ready":true}"#)
            let unknownReady = try await server.request("/v2/models/onnx-pair.third/ready", method: "GET", body: nil)
            #expect(unknownReady.status == 404, "\(unknownReady.body)")
            #expect(try v2Error(unknownReady.body).message?.hasPrefix(#"no model named "third" (models: "first", "second")"#) == true, "\(unknownReady.body)")
            _ = try server.tern("delete", "onnx-pair")
        }

        @Test("/v2/health/ready is 503 naming the API without a ready replica, and 200 again once it is removed")
        func readinessFollowsReplicas() async throws {
            let (server, _) = try await deployed()
            let path = TestEnvironment.fixture("onnx-no-runtime").appendingPathComponent("tern.yaml").path
            _ = try server.tern("deploy", path, "--timeout", "30")
            let notReady = try await server.request("/v2/health/ready", method: "GET", body: nil)
            #expect(notReady.status == 503)
            #expect(notReady.body == #"{"ready":false,"apis_not_ready":["onnx-no-runtime"]}"#)
            let model = try await server.request("/v2/models/onnx-no-runtime/ready", method: "GET", body: nil)
            #expect(model.status == 503)
            #expect(model.body == #"{"name":"onnx-no-runtime","ready":false}"#)
            #expect(try server.tern("delete", "onnx-no-runtime").status == 0)
            try await server.waitUntil(timeout: 30, "every API ready") {
                try await server.request("/v2/health/ready", method: "GET", body: nil).status == 200
            }
        }
    }
}
