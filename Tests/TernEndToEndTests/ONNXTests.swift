import Foundation
import Testing
import TernCore
import TernTesting

/// The onnx-iris example (`predictor.type: onnx`) converted into a copy inside the server's home,
/// with scikit-learn's own predictions for the 150 iris rows (from the example's `train()`).
enum ONNXIrisProject {
    private static let projects = PerServer<Prepared>()

    struct Prepared: Sendable {
        /// `tern.yaml` of the temporary copy.
        var config: URL
        /// The copy itself (it holds `train.py`, which the Open Inference tests import).
        var directory: URL
        /// The 150 iris rows as JSON objects of the four features, in data-set order.
        var rows: [String]
        /// scikit-learn's predicted class name for each row.
        var labels: [String]
    }

    /// Copies the example, converts the model and deploys it (once per server); waits until live.
    static func deploy(on server: TestServer) async throws -> Prepared {
        try await projects.value(for: server) {
            let project = try make(in: scratchDirectory(in: server))
            let result = try server.tern("deploy", project.config.path, "--timeout", "90")
            guard result.status == 0 else { throw TestFailure("tern deploy onnx-iris failed:\n\(result.stdout)\n\(result.stderr)") }
            try await server.waitUntilLive("onnx-iris")
            return project
        }
    }

    private static func make(in scratch: URL) throws -> Prepared {
        let directory = scratch.appendingPathComponent("onnx-iris")
        try FileManager.default.copyItem(
            at: TestEnvironment.packageRoot.appendingPathComponent("examples/onnx-iris"), to: directory)
        try? FileManager.default.removeItem(at: directory.appendingPathComponent("model.onnx"))
        let training = try runCommand(TestEnvironment.python, ["train.py", "model.onnx"], directory: directory)
        guard training.status == 0 else { throw TestFailure("train.py failed: \(training.stdout)\(training.stderr)") }
        let script = """
            import json
            from sklearn.datasets import load_iris
            from train import train
            names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
            labels = ["setosa", "versicolor", "virginica"]
            iris = load_iris()
            for values, label in zip(iris.data, train().predict(iris.data)):
                print(json.dumps(dict(zip(names, map(float, values)))) + "\\t" + labels[int(label)])
            """
        let listing = try runCommand(TestEnvironment.python, ["-c", script], directory: directory)
        guard listing.status == 0 else { throw TestFailure("listing the iris rows failed: \(listing.stderr)") }
        let lines = listing.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        return Prepared(
            config: directory.appendingPathComponent("tern.yaml"), directory: directory,
            rows: lines.map { $0[0] }, labels: lines.map { $0[1] })
    }
}

extension EndToEnd {
    /// `predictor.type: onnx`: the onnx-iris example, and an API whose Python lacks onnxruntime.
    @Suite(.serialized, .sharedServer())
    struct ONNX {
        @Test("the onnx-iris example answers all 150 iris rows, in one request, with scikit-learn's own predictions")
        func predictionsMatchScikitLearn() async throws {
            let server = try Shared.require()
            let project = try await ONNXIrisProject.deploy(on: server)
            #expect(project.rows.count == 150)
            #expect(Set(project.labels) == ["setosa", "versicolor", "virginica"])
            let body = Data(("[" + project.rows.joined(separator: ",") + "]").utf8)
            let response = try await server.request("/onnx-iris", body: body)
            #expect(response.status == 200, "\(response.body)")
            let answers = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [[String: Any]])
            #expect(answers.compactMap { $0["label"] as? String } == project.labels)
            #expect(answers.allSatisfy { (($0["probability"] as? Double) ?? 0) > 0.33 })
        }

        @Test("one row (the example's sample.json) is answered setosa with its probability")
        func sampleIsSetosa() async throws {
            let server = try Shared.require()
            let project = try await ONNXIrisProject.deploy(on: server)
            let sample = try Data(contentsOf: project.directory.appendingPathComponent("sample.json"))
            let response = try await server.request("/onnx-iris", body: sample)
            #expect(response.status == 200, "\(response.body)")
            let answer = try jsonObject(response.body)
            #expect(answer["label"] as? String == "setosa")
            let probability = try #require(answer["probability"] as? Double)
            #expect(probability > 0.9 && probability < 1)
        }

        /// How the missing package is simulated: the fixture's `python_path` folder comes first on
        /// `sys.path` and holds an `onnxruntime` package whose import raises
        /// `ModuleNotFoundError: No module named 'onnxruntime'`, as a Python without it does.
        @Test("without onnxruntime the API is `error (init failed)` and the message says to add it to requirements.txt")
        func missingOnnxruntimeIsAnInitError() async throws {
            let server = try Shared.require()
            let path = TestEnvironment.fixture("onnx-no-runtime").appendingPathComponent("tern.yaml").path
            let deploy = try server.tern("deploy", path, "--timeout", "60")
            #expect(deploy.status != 0)
            #expect(deploy.stderr.contains("error (init failed)"), "stderr: \(deploy.stderr)")
            try await server.waitUntil(timeout: 30, "onnx-no-runtime to show its error") {
                try server.api("onnx-no-runtime").status == .errorInitFailed
            }
            let message = try server.api("onnx-no-runtime").message ?? ""
            #expect(message.contains("predictor.type onnx needs the onnxruntime package in the replica's Python"), "\(message)")
            #expect(message.contains("No module named 'onnxruntime'"), "\(message)")
            #expect(message.contains("add onnxruntime to the project's requirements.txt"), "\(message)")
        }
    }
}
