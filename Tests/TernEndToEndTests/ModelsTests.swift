import Foundation
import Testing
import TernCore
import TernTesting

/// Writes `{"answer": answer, "load_seconds": loadSeconds}` (or `text` as is) to `file`, creating
/// its folder.
private func writeModel(_ file: URL, answer: String? = nil, loadSeconds: Double = 0, text: String? = nil) throws {
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    let body = text ?? #"{"answer": "\#(answer ?? "")", "load_seconds": \#(loadSeconds)}"#
    try body.write(to: file, atomically: true, encoding: .utf8)
}

/// A `models-multi` API named `name` whose single model is `file://<folder>`.
private func reloadingYAML(name: String, folder: URL) -> String {
    SpecYAML.realtime(name: name, predictor: ["threads_per_process": 4, "models": ["path": "file://\(folder.path)"]])
}

extension EndToEnd {
    /// `predictor.models` (fixture `models-multi`: a model is a JSON file; `predict` answers the
    /// `answer` of the model and version named by the query): versions chosen by query, live
    /// reloading of `file://` models under load (C29), caching, and deploy-time path errors.
    @Suite(.serialized, .sharedServer())
    struct Models {
        private static let deployed = PerServer<Bool>()

        private func deployedMulti() async throws -> TestServer {
            let server = try Shared.require()
            _ = try await Self.deployed.value(for: server) {
                try deployFixture("models-multi", on: server)
                try await server.waitUntilLive("models-paths")
                try await server.waitUntilLive("models-dir")
                return true
            }
            return server
        }

        private func answer(_ server: TestServer, _ path: String) async -> (status: Int, body: [String: Any]) {
            let response = await LoadClient.post(server.gatewayURL + path, body: Data("{}".utf8))
            let body = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any] ?? [:]
            return (response.status, body)
        }

        /// Polls `path` until its `answer` is `expected`; returns how long that took.
        private func waitForAnswer(
            _ server: TestServer, _ path: String, _ expected: String, timeout: Duration = .seconds(20)
        ) async throws -> Duration {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < timeout {
                if await answer(server, path).body["answer"] as? String == expected { return ContinuousClock.now - start }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw TestFailure("\(path) did not answer \(expected) within \(timeout)")
        }

        @Test("paths and dir: the model and version chosen by query parameters are served; latest is the highest version")
        func versionsChosenByQuery() async throws {
            let server = try await deployedMulti()
            let cases: [(String, String)] = [
                ("/models-paths?model=a", "a2"), ("/models-paths?model=a&version=1", "a1"),
                ("/models-paths?model=a&version=2", "a2"), ("/models-paths?model=b", "b"),
                ("/models-dir?model=x", "x1"), ("/models-dir?model=x&version=1", "x1"), ("/models-dir?model=y", "y"),
            ]
            for (path, expected) in cases {
                let (status, body) = await answer(server, path)
                #expect(status == 200, "\(path): \(body)")
                #expect(body["answer"] as? String == expected, "\(path): \(body)")
            }
            // Without caching every model is loaded at start: 3 model versions for models-paths.
            #expect(await answer(server, "/models-paths?model=b").body["loads"] as? Int == 3)
        }

        @Test("an unknown model or version is a 404 model_not_found naming what exists")
        func unknownModelOrVersionIs404() async throws {
            let server = try await deployedMulti()
            let version = await LoadClient.post(server.gatewayURL + "/models-paths?model=a&version=7", body: Data("{}".utf8))
            #expect(version.status == 404, "\(version.summary)")
            let error = try errorObject(version.body)
            #expect(error["kind"] as? String == "model_not_found")
            #expect(error["message"] as? String == #"model "a" has no version 7 (versions: 1, 2)"#)
            #expect(error["api"] as? String == "models-paths")

            let name = await LoadClient.post(server.gatewayURL + "/models-paths?model=c", body: Data("{}".utf8))
            #expect(name.status == 404, "\(name.summary)")
            #expect(try errorObject(name.body)["message"] as? String == #"no model named "c" (models: "a", "b")"#)

            let unversioned = await LoadClient.post(server.gatewayURL + "/models-dir?model=y&version=1", body: Data("{}".utf8))
            #expect(unversioned.status == 404, "\(unversioned.summary)")
            #expect(
                try errorObject(unversioned.body)["message"] as? String
                    == #"model "y" has no version folders; ask for "latest" instead of version 1"#)
        }

        @Test("live reload of a file:// model under load: a new version, a changed file and a removed version are served within seconds; zero failed requests")
        func liveReloadUnderLoad() async throws {
            let server = try Shared.require()
            let folder = try scratchDirectory(in: server).appendingPathComponent("m")
            try writeModel(folder.appendingPathComponent("1/model.json"), answer: "v1")
            try await deployExpectingSuccess(reloadingYAML(name: "reload", folder: folder), predictorOf: "models-multi", on: server)
            try await server.waitUntilLive("reload")
            #expect(await answer(server, "/reload").body["answer"] as? String == "v1")

            let load = LoadGenerator(url: server.gatewayURL + "/reload", clients: 3, body: Data("{}".utf8))
            try await Task.sleep(for: .milliseconds(300))
            // Version 2 takes 1.5 s to load: version 1 serves meanwhile (C29).
            try writeModel(folder.appendingPathComponent("2/model.json"), answer: "v2", loadSeconds: 1.5)
            let added = try await waitForAnswer(server, "/reload", "v2")
            try writeModel(folder.appendingPathComponent("2/model.json"), answer: "v2 changed")
            let changed = try await waitForAnswer(server, "/reload", "v2 changed")
            try FileManager.default.removeItem(at: folder.appendingPathComponent("2"))
            let removed = try await waitForAnswer(server, "/reload", "v1")
            try await Task.sleep(for: .milliseconds(300))
            let responses = await load.stop()

            print("[models] live reload (poll 2 s): new version served after \(added), changed file after \(changed), removed version after \(removed); \(responses.count) requests under load")
            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).count) failed: \(failures(in: responses).prefix(5))")
            let answers = Set(responses.compactMap { (try? jsonObject($0.body))?["answer"] as? String })
            #expect(answers == ["v1", "v2", "v2 changed"], "\(answers)")
            for elapsed in [added, changed, removed] { #expect(elapsed < .seconds(10)) }
            let logs = try server.tern("logs", "reload").stdout
            #expect(logs.contains("loaded the model version 2 from \(folder.path)/2"), "\(logs)")
            #expect(logs.contains("reloaded the model version 2"), "\(logs)")
            #expect(logs.contains("removed the model version 2"), "\(logs)")
        }

        @Test("a failed reload (truncated model file) keeps the previous version serving and logs the path and reason")
        func failedReloadKeepsThePreviousVersion() async throws {
            let server = try Shared.require()
            let folder = try scratchDirectory(in: server).appendingPathComponent("m")
            try writeModel(folder.appendingPathComponent("1/model.json"), answer: "v1")
            try await deployExpectingSuccess(reloadingYAML(name: "bad-reload", folder: folder), predictorOf: "models-multi", on: server)
            try await server.waitUntilLive("bad-reload")

            let load = LoadGenerator(url: server.gatewayURL + "/bad-reload", clients: 2, body: Data("{}".utf8))
            try writeModel(folder.appendingPathComponent("2/model.json"), text: #"{"answer": "v"#)
            var logs = ""
            try await server.waitUntil(timeout: 20, "the failed load in the logs") {
                logs = try server.tern("logs", "bad-reload").stdout
                return logs.contains("cannot load the model version 2")
            }
            try await Task.sleep(for: .seconds(1))
            let responses = await load.stop()

            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).prefix(5))")
            let answers = Set(responses.compactMap { (try? jsonObject($0.body))?["answer"] as? String })
            #expect(answers == ["v1"], "\(answers)")
            let line = try #require(logs.split(separator: "\n").first { $0.contains("cannot load the model version 2") })
            #expect(line.contains("from \(folder.path)/2: JSONDecodeError"), "\(line)")
            #expect(line.contains("serving version 1 of the model as latest"), "\(line)")

            // The status says it too (`-o json` and the table), while the API stays live.
            var document = try server.api("bad-reload")
            try await server.waitUntil(timeout: 10, "the failed load in the status") {
                document = try server.api("bad-reload")
                return document.message != nil
            }
            #expect(document.status == .live)
            let message = try #require(document.message)
            #expect(message.hasPrefix("cannot load the model version 2 from \(folder.path)/2: JSONDecodeError: "), "\(message)")
            #expect(message.hasSuffix("; serving version 1 of the model as latest"), "\(message)")
            let table = try server.tern("get", "bad-reload").stdout
            #expect(table.contains("from \(folder.path)/2: JSONDecodeError"), "\(table)")

            // Fixing the file is picked up, and the status message goes.
            try writeModel(folder.appendingPathComponent("2/model.json"), answer: "v2 fixed")
            _ = try await waitForAnswer(server, "/bad-reload", "v2 fixed")
            try await server.waitUntil(timeout: 10, "the status message to clear") {
                document = try server.api("bad-reload")
                return document.message == nil
            }
            #expect(document.status == .live)
        }

        @Test("cache_size 1 with two models alternating: every answer is right, each switch reloads, and a request holding an evicted model finishes with it")
        func cacheSizeOneAlternating() async throws {
            let server = try Shared.require()
            let outside = try scratchDirectory(in: server)
            try writeModel(outside.appendingPathComponent("a/model.json"), answer: "A")
            try writeModel(outside.appendingPathComponent("b/1/model.json"), answer: "B")
            let yaml = SpecYAML.realtime(
                name: "cached",
                predictor: [
                    "threads_per_process": 4,
                    "models": [
                        "paths": [
                            ["name": "a", "path": "file://\(outside.path)/a"],
                            ["name": "b", "path": "file://\(outside.path)/b"],
                        ],
                        "cache_size": 1, "disk_cache_size": 2,
                    ],
                ])
            try await deployExpectingSuccess(yaml, predictorOf: "models-multi", on: server)
            try await server.waitUntilLive("cached")

            var loads: [Int] = []
            for index in 0..<8 {
                let name = index.isMultiple(of: 2) ? "a" : "b"
                let (status, body) = await answer(server, "/cached?model=\(name)")
                #expect(status == 200, "\(body)")
                #expect(body["answer"] as? String == name.uppercased(), "\(name): \(body)")
                loads.append(body["loads"] as? Int ?? -1)
            }
            // Nothing is loaded at start; with room for one model, every switch loads again.
            #expect(loads == Array(1...8), "\(loads)")

            // A slow request on a keeps its model while b evicts it.
            async let slow = LoadClient.post(server.gatewayURL + "/cached?model=a&sleep=1.5", body: Data("{}".utf8))
            try await Task.sleep(for: .milliseconds(500))
            let other = await answer(server, "/cached?model=b")
            #expect(other.body["answer"] as? String == "B")
            let held = await slow
            #expect(held.status == 200, "\(held.summary)")
            #expect(try jsonObject(held.body)["answer"] as? String == "A")

            // Concurrent alternation: all right.
            let responses = await withTaskGroup(of: (String, LoadResponse).self) { group in
                for index in 0..<12 {
                    let name = index.isMultiple(of: 2) ? "a" : "b"
                    group.addTask { (name, await LoadClient.post(server.gatewayURL + "/cached?model=\(name)", body: Data("{}".utf8))) }
                }
                var all: [(String, LoadResponse)] = []
                for await item in group { all.append(item) }
                return all
            }
            for (name, response) in responses {
                #expect(response.status == 200, "\(response.summary)")
                #expect((try? jsonObject(response.body))?["answer"] as? String == name.uppercased(), "\(response.body)")
            }
        }

        @Test("deploy refuses a model path missing from the project and malformed version folders, naming the API, key path and line")
        func deployTimePathErrors() async throws {
            let server = try Shared.require()
            let missing = try makeProject(
                yaml: """
                    - name: missing-model
                      kind: RealtimeAPI
                      predictor:
                        type: python
                        path: predictor.py
                        models:
                          paths:
                            - name: a
                              path: models/nope
                    """, predictorOf: "models-multi", in: server)
            let first = try server.tern("deploy", missing.path)
            #expect(first.status != 0)
            #expect(
                first.stderr.contains(
                    #"tern.yaml:9: api "missing-model": predictor.models.paths[0].path: "models/nope" does not exist in the project"#
                ), "\(first.stderr)")

            let malformed = try makeProject(
                yaml: """
                    - name: malformed-model
                      kind: RealtimeAPI
                      predictor:
                        type: python
                        path: predictor.py
                        models:
                          path: models/m
                    """, predictorOf: "models-multi", in: server)
            let project = malformed.deletingLastPathComponent()
            try writeModel(project.appendingPathComponent("models/m/1/model.json"), answer: "1")
            try writeModel(project.appendingPathComponent("models/m/v2/model.json"), answer: "2")
            let second = try server.tern("deploy", malformed.path)
            #expect(second.status != 0)
            #expect(
                second.stderr.contains(
                    #"tern.yaml:7: api "malformed-model": predictor.models.path: "models/m" holds folder "v2", which is not a valid version folder"#
                ), "\(second.stderr)")

            try FileManager.default.moveItem(
                at: project.appendingPathComponent("models/m/v2"), to: project.appendingPathComponent("models/m/extra"))
            let third = try server.tern("deploy", malformed.path)
            #expect(third.status != 0)
            #expect(
                third.stderr.contains(#""models/m" mixes version folders (1) with other folders (extra)"#), "\(third.stderr)")
            for name in ["missing-model", "malformed-model"] {
                #expect(try server.tern("get", name).status != 0, "\(name) should not be deployed")
            }
        }
        @Test("the multi-model-iris example: trained at run time, each model and version answers as scikit-learn does; a new version trained into a file:// folder is served without redeploy")
        func multiModelIrisExample() async throws {
            let server = try Shared.require()
            let project = try scratchDirectory(in: server).appendingPathComponent("multi-model-iris")
            try FileManager.default.copyItem(
                at: TestEnvironment.packageRoot.appendingPathComponent("examples/multi-model-iris"), to: project)
            let training = try runCommand(TestEnvironment.python, ["train.py"], directory: project)
            try #require(training.status == 0, "train.py failed: \(training.stdout)\(training.stderr)")
            let deploy = try server.tern("deploy", project.appendingPathComponent("tern.yaml").path, "--timeout", "90")
            try #require(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            try await server.waitUntilLive("multi-model-iris")
            let sample = try Data(contentsOf: project.appendingPathComponent("sample.json"))
            let url = server.gatewayURL + "/multi-model-iris"
            // The sample (a virginica) fools the sepal-only model 1 of logreg.
            for (query, expected) in [
                ("model=logreg&version=1", "versicolor"), ("model=logreg&version=2", "virginica"),
                ("model=logreg", "virginica"), ("model=tree", "virginica"),
            ] {
                let response = await LoadClient.post("\(url)?\(query)", body: sample)
                #expect(response.status == 200, "\(query): \(response.summary)")
                #expect(response.body == expected, "\(query): \(response.body)")
            }
            let missing = await LoadClient.post("\(url)?model=logreg&version=9", body: sample)
            #expect(missing.status == 404)
            #expect(try errorObject(missing.body)["message"] as? String == #"model "logreg" has no version 9 (versions: 1, 2)"#)

            // Live: the same models outside the project, then a version 3 of logreg (a depth-2 tree).
            let outside = try scratchDirectory(in: server).appendingPathComponent("iris-models")
            #expect(try runCommand(TestEnvironment.python, ["train.py", outside.path], directory: project).status == 0)
            let yaml = try String(contentsOf: project.appendingPathComponent("tern.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "name: multi-model-iris", with: "name: multi-model-iris-live")
                .replacingOccurrences(of: "dir: models", with: "dir: file://\(outside.path)")
            try yaml.write(to: project.appendingPathComponent("tern.yaml"), atomically: true, encoding: .utf8)
            let live = try server.tern("deploy", project.appendingPathComponent("tern.yaml").path, "--timeout", "90")
            try #require(live.status == 0, "\(live.stdout)\(live.stderr)")
            try await server.waitUntilLive("multi-model-iris-live")
            let third = try runCommand(TestEnvironment.python, ["train.py", outside.path, "--version", "3"], directory: project)
            #expect(third.status == 0, "\(third.stderr)")
            try await server.waitUntil(timeout: 20, "logreg version 3 to be served") {
                await LoadClient.post(server.gatewayURL + "/multi-model-iris-live?model=logreg&version=3", body: sample).status == 200
            }
            let versions = await LoadClient.post(server.gatewayURL + "/multi-model-iris-live?model=logreg&version=3", body: sample)
            let latest = await LoadClient.post(server.gatewayURL + "/multi-model-iris-live?model=logreg", body: sample)
            #expect(latest.status == 200 && latest.body == versions.body, "latest \(latest.summary), version 3 \(versions.summary)")
            let logs = try server.tern("logs", "multi-model-iris-live").stdout
            #expect(logs.contains("loaded model \"logreg\" version 3 from \(outside.path)/logreg/3"), "\(logs)")
        }
    }
}
