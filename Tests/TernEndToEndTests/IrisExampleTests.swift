import Foundation
import Testing
import TernCore
import TernTesting

/// The iris example trained into a copy inside the server's home (so the tests do not depend on
/// the repo's `model.pkl`), with every iris row and the label the trained model itself predicts.
enum IrisProject {
    private static let projects = PerServer<Prepared>()

    struct Prepared: Sendable {
        /// `tern.yaml` of the temporary copy.
        var config: URL
        /// One JSON object per iris row, exactly as Python printed it.
        var rows: [String]
        /// The model's own prediction for each row.
        var labels: [String]
    }

    /// Copies and trains the example (once per server).
    static func prepare(for server: TestServer) async throws -> Prepared {
        try await projects.value(for: server) { try make(in: scratchDirectory(in: server)) }
    }

    private static func make(in scratch: URL) throws -> Prepared {
        let directory = scratch.appendingPathComponent("iris-classifier")
        try FileManager.default.copyItem(
            at: TestEnvironment.packageRoot.appendingPathComponent("examples/iris-classifier"), to: directory)
        let model = directory.appendingPathComponent("model.pkl")
        try? FileManager.default.removeItem(at: model)
        let training = try runCommand(TestEnvironment.python, ["train.py", model.path], directory: directory)
        guard training.status == 0, FileManager.default.fileExists(atPath: model.path) else {
            throw TestFailure("train.py failed (\(training.status)): \(training.stdout)\(training.stderr)")
        }
        let script = """
            import json, pickle, sys
            from sklearn.datasets import load_iris
            with open(sys.argv[1], "rb") as f:
                saved = pickle.load(f)
            iris = load_iris()
            names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
            for values, label in zip(iris.data, saved["model"].predict(iris.data)):
                print(json.dumps(dict(zip(names, map(float, values)))) + "\\t" + saved["labels"][int(label)])
            """
        let listing = try runCommand(TestEnvironment.python, ["-c", script, model.path])
        guard listing.status == 0 else { throw TestFailure("listing the iris rows failed: \(listing.stderr)") }
        let lines = listing.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        guard lines.allSatisfy({ $0.count == 2 }) else { throw TestFailure("unexpected listing: \(listing.stdout)") }
        return Prepared(
            config: directory.appendingPathComponent("tern.yaml"), rows: lines.map { $0[0] }, labels: lines.map { $0[1] })
    }

    /// Prepares the project and deploys it (a no-op "unchanged" deploy when it already is);
    /// returns the `tern deploy` result.
    static func deploy(on server: TestServer) async throws -> (Prepared, CommandResult) {
        let project = try await prepare(for: server)
        return (project, try server.tern("deploy", project.config.path, "--timeout", "90"))
    }
}

extension EndToEnd {
    @Suite(.serialized, .sharedServer())
    struct IrisExample {
        /// Deploys (once per server) and waits until live.
        private func deployedIris() async throws -> (TestServer, IrisProject.Prepared) {
            let server = try Shared.require()
            let (project, result) = try await IrisProject.deploy(on: server)
            #expect(result.status == 0, "tern deploy failed:\n\(result.stdout)\n\(result.stderr)")
            try await server.waitUntilLive("iris")
            return (server, project)
        }

        @Test("tern deploy of the iris example exits 0 and tern get reports it live with 1/1 replicas at …/iris")
        func deployReportsLive() async throws {
            let server = try Shared.require()
            let (_, result) = try await IrisProject.deploy(on: server)
            #expect(result.status == 0, "tern deploy failed:\n\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("iris is live at \(server.gatewayURL)/iris") || result.stdout.contains("unchanged"))

            let get = try server.tern("get", "iris", "-o", "json")
            #expect(get.status == 0)
            let document = try jsonObject(get.stdout)
            #expect(document["name"] as? String == "iris")
            #expect(document["status"] as? String == "live")
            #expect(document["ready_replicas"] as? Int == 1)
            #expect(document["requested_replicas"] as? Int == 1)
            let endpoint = try #require(document["endpoint"] as? String)
            #expect(endpoint.hasSuffix("/iris"))
            #expect(endpoint == server.gatewayURL + "/iris")
            let replicas = try #require(document["replicas"] as? [[String: Any]])
            #expect(replicas.count == 1)
            #expect(replicas.first?["state"] as? String == "ready")
            #expect((replicas.first?["pid"] as? Int).map { $0 > 0 } == true)
        }

        @Test("all 150 iris rows sent through the gateway get the model's own predictions")
        func all150RowsMatchTheModel() async throws {
            let (server, project) = try await deployedIris()
            #expect(project.rows.count == 150)
            #expect(Set(project.labels) == ["setosa", "versicolor", "virginica"])
            var mismatches: [String] = []
            var answered = 0
            for (row, expected) in zip(project.rows, project.labels) {
                let response = try await server.request("/iris", body: Data(row.utf8))
                if response.status == 200 && response.body == expected {
                    answered += 1
                } else {
                    mismatches.append("\(row) → \(response.status) \(response.body) (expected \(expected))")
                }
                #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true)
            }
            #expect(answered == 150)
            #expect(mismatches.isEmpty, "\(mismatches.count) rows differ, e.g. \(mismatches.prefix(3))")
        }

        @Test("tern get (table) lists iris as live with its endpoint")
        func tableListsIris() async throws {
            let (server, _) = try await deployedIris()
            let result = try server.tern("get")
            #expect(result.status == 0)
            let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(lines.first?.first == "NAME")
            let row = try #require(lines.first { $0.first == "iris" }, "no iris row in:\n\(result.stdout)")
            #expect(row.count > 1 && row[1] == "live")
            #expect(row.last.map(String.init) == server.gatewayURL + "/iris")
        }

        @Test("tern predict iris file.json prints the model's answer")
        func ternPredictPrintsTheAnswer() async throws {
            let (server, project) = try await deployedIris()
            let directory = try scratchDirectory(in: server)
            // Row 0 is a setosa and row 149 a virginica: two different answers.
            for index in [0, 149] {
                let file = directory.appendingPathComponent("row\(index).json")
                try project.rows[index].write(to: file, atomically: true, encoding: .utf8)
                let result = try server.tern("predict", "iris", file.path)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == project.labels[index])
            }
            #expect(project.labels[0] != project.labels[149])
        }

        @Test("GET on the endpoint answers a JSON status document")
        func getOnTheEndpointAnswersAStatusDocument() async throws {
            let (server, _) = try await deployedIris()
            let response = try await server.request("/iris", method: "GET", contentType: nil)
            #expect(response.status == 200)
            #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
            let document = try jsonObject(response.body)
            #expect(document["api"] as? String == "iris")
            #expect(document["status"] as? String == "live")
            #expect(document["ready_replicas"] as? Int == 1)
        }
    }
}
