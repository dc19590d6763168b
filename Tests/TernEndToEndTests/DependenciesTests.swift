import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// Per-API Python dependencies (`requirements.txt`, docs/dependencies.md) with local wheels
    /// built by the test (no network), and the replica environment: `.env`, `predictor.env`,
    /// `python_path`.
    ///
    /// Fixture `deps`: APIs `deps-a` and `deps-b` importing `ternfixturedep` from one
    /// requirements.txt; `deps-broken`: a requirement on a wheel that does not exist.
    @Suite(.serialized, .sharedServer())
    struct Dependencies {
        /// A copy of fixture `deps` with its wheel built, and its first `tern deploy`.
        struct Deployed: Sendable {
            var project: URL
            var deploy: CommandResult
        }

        private static let deployed = PerServer<Deployed>()

        private static let sklearnVersion: String = {
            (try? runCommand(TestEnvironment.python, ["-c", "import sklearn; print(sklearn.__version__)"]))?
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        }()

        /// Copies fixture `name` into the server's home and builds `wheel-src/<package>` (when
        /// present) into `wheels/` with examples/requirements-demo/build_wheel.py.
        private static func copyFixture(_ name: String, in server: TestServer) throws -> URL {
            let project = try scratchDirectory(in: server).appendingPathComponent(name)
            try FileManager.default.copyItem(at: TestEnvironment.fixture(name), to: project)
            let source = project.appendingPathComponent("wheel-src")
            if FileManager.default.fileExists(atPath: source.path) {
                let builder = TestEnvironment.packageRoot.appendingPathComponent("examples/requirements-demo/build_wheel.py")
                let build = try runCommand(
                    TestEnvironment.python,
                    [builder.path, source.path, "ternfixturedep", "1.0", project.appendingPathComponent("wheels").path])
                guard build.status == 0 else { throw TestFailure("build_wheel.py failed: \(build.stdout)\(build.stderr)") }
            }
            return project
        }

        private func deployedDeps() async throws -> (TestServer, Deployed) {
            let server = try Shared.require()
            let deployed = try await Self.deployed.value(for: server) {
                let project = try Self.copyFixture("deps", in: server)
                let deploy = try server.tern("deploy", project.appendingPathComponent("tern.yaml").path, "--timeout", "120")
                return Deployed(project: project, deploy: deploy)
            }
            #expect(deployed.deploy.status == 0, "deploy failed:\n\(deployed.deploy.stdout)\n\(deployed.deploy.stderr)")
            return (server, deployed)
        }

        private func answer(_ api: String, on server: TestServer) async throws -> [String: Any] {
            let response = try await server.request("/\(api)", body: Data("{}".utf8))
            #expect(response.status == 200, "\(api): \(response.status) \(response.body)")
            return try jsonObject(response.body)
        }

        /// Entries of `TERN_HOME/venvs`.
        private func venvEntries(_ server: TestServer) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: server.home.appendingPathComponent("venvs").path).sorted()
        }

        /// `Successfully installed ternfixturedep-1.0` lines in the logs of `apis`.
        private func installCount(_ apis: [String], on server: TestServer) throws -> Int {
            try apis.map { api in
                try server.tern("logs", api).stdout.components(separatedBy: "\n")
                    .filter { $0.contains("Successfully installed ternfixturedep-1.0") }.count
            }.reduce(0, +)
        }

        @Test("a package listed in requirements.txt is importable in the replica, which runs in TERN_HOME/venvs and still sees the replica Python's packages")
        func packageIsImportable() async throws {
            let (server, _) = try await deployedDeps()
            let answer = try await answer("deps-a", on: server)
            #expect(answer["greeting"] as? String == "hello from ternfixturedep 1.0")
            let venvs = server.home.appendingPathComponent("venvs").path
            let environment = try #require(answer["environment"] as? String)
            #expect(environment.hasPrefix(venvs + "/"), "environment: \(environment)")
            let module = try #require(answer["module"] as? String)
            #expect(module.hasPrefix(environment + "/lib/python"), "module: \(module)")
            #expect(module.hasSuffix("/site-packages/ternfixturedep/__init__.py"), "module: \(module)")
            // scikit-learn is not in requirements.txt: it comes from the test's .venv.
            #expect(answer["sklearn"] as? String == Self.sklearnVersion)
        }

        @Test("tern deploy shows the install while it runs (plain lines without a terminal)")
        func deployShowsProgress() async throws {
            let (_, deployed) = try await deployedDeps()
            let lines = deployed.deploy.stdout.components(separatedBy: "\n")
            #expect(
                lines.contains { $0.hasPrefix("deps-a: installing dependencies (requirements.txt, ") && $0.hasSuffix(" s)") },
                "stdout: \(deployed.deploy.stdout)")
            #expect(lines.contains("deps-a is live at \(try Shared.require().gatewayURL)/deps-a"))
            #expect(lines.contains("deps-b is live at \(try Shared.require().gatewayURL)/deps-b"))
        }

        @Test("two APIs with identical requirements share one environment, installed once")
        func identicalRequirementsShareOneEnvironment() async throws {
            let (server, _) = try await deployedDeps()
            let a = try await answer("deps-a", on: server)
            let b = try await answer("deps-b", on: server)
            #expect(a["environment"] as? String == b["environment"] as? String)
            #expect(try installCount(["deps-a", "deps-b"], on: server) == 1)
            // GET /metrics (docs/metrics.md) counts the same: one pip run, the other API reusing it.
            let metrics = try await Metrics.scrape(server).body
            let count = { (outcome: String) in
                ["deps-a", "deps-b"].compactMap {
                    Metrics.value(#"tern_dependency_installs_total{api="\#($0)",outcome="\#(outcome)"}"#, in: metrics)
                }.reduce(0, +)
            }
            #expect(count("installed") == 1, "\(metrics)")
            #expect(count("reused") >= 1, "\(metrics)")
            #expect(count("failed") == 0)
            #expect(Metrics.value(#"tern_dependency_install_duration_seconds_count{outcome="installed"}"#, in: metrics) == 1)
            // One published link and the one folder it points to.
            let entries = try venvEntries(server)
            #expect(entries.count == 2, "venvs: \(entries)")
            let link = try #require(entries.first)
            #expect(entries.last?.hasPrefix(link + "-") == true, "venvs: \(entries)")
            let type = try FileManager.default.attributesOfItem(atPath: server.home.path + "/venvs/" + link)[.type]
            #expect(type as? FileAttributeType == .typeSymbolicLink)
            #expect(a["environment"] as? String == server.home.path + "/venvs/" + link)
            let logs = try server.tern("logs", "deps-a").stdout + server.tern("logs", "deps-b").stdout
            #expect(logs.contains("replicas run \(server.home.path)/venvs/\(link)/bin/python"), "logs: \(logs)")
        }

        @Test("redeploying with the same requirements reuses the environment: no second pip run")
        func redeployReuses() async throws {
            let (server, deployed) = try await deployedDeps()
            let predictor = deployed.project.appendingPathComponent("predictor.py")
            let source = try String(contentsOf: predictor, encoding: .utf8)
            try (source + "\n# revision \(UUID().uuidString)\n").write(to: predictor, atomically: true, encoding: .utf8)
            let before = try venvEntries(server)
            let started = Date()
            let redeploy = try server.tern("deploy", deployed.project.appendingPathComponent("tern.yaml").path, "--timeout", "120")
            let seconds = Date().timeIntervalSince(started)
            #expect(redeploy.status == 0, "\(redeploy.stdout)\n\(redeploy.stderr)")
            #expect(redeploy.stdout.contains("deps-a: updated (revision"), "\(redeploy.stdout)")
            print("[dependencies] redeploy with cached requirements took \(String(format: "%.1f", seconds)) s")
            #expect(try venvEntries(server) == before)
            #expect(try installCount(["deps-a", "deps-b"], on: server) == 1)
            let logs = try server.tern("logs", "deps-a").stdout
            #expect(logs.contains("requirements.txt: reusing environment"), "logs: \(logs)")
            let answer = try await answer("deps-a", on: server)
            #expect(answer["greeting"] as? String == "hello from ternfixturedep 1.0")
        }

        @Test("refresh of an API with an unchanged requirements.txt keeps its environment: no `installing dependencies`, no probe")
        func refreshKeepsTheEnvironment() async throws {
            let (server, _) = try await deployedDeps()
            let before = try server.api("deps-b")
            let oldPIDs = Set(before.replicas.compactMap(\.pid))
            let reusedLines = { try server.tern("logs", "deps-b").stdout.components(separatedBy: "\n").filter { $0.contains("requirements.txt: ") }.count }
            let linesBefore = try reusedLines()
            #expect(try server.tern("refresh", "deps-b").status == 0)
            var sawInstalling = false
            try await server.waitUntil(timeout: 30, "deps-b to be refreshed") {
                let api = try server.api("deps-b")
                sawInstalling = sawInstalling || api.phase == .installingDependencies
                    || (api.message ?? "").contains("installing dependencies")
                let pids = Set(api.replicas.compactMap(\.pid))
                return api.status == .live && !pids.isEmpty && pids.isDisjoint(with: oldPIDs)
                    && api.replicas.allSatisfy { $0.state == .ready }
            }
            #expect(!sawInstalling)
            #expect(try reusedLines() == linesBefore)
            let answer = try await answer("deps-b", on: server)
            #expect(answer["greeting"] as? String == "hello from ternfixturedep 1.0")
        }

        @Test("a failed install makes the API `error` with pip's message; other APIs keep answering 200")
        func failedInstallIsAnError() async throws {
            let (server, _) = try await deployedDeps()
            let before = try venvEntries(server)
            let project = try Self.copyFixture("deps-broken", in: server)
            let deploy = try server.tern("deploy", project.appendingPathComponent("tern.yaml").path, "--timeout", "120")
            #expect(deploy.status != 0)
            #expect(deploy.stderr.contains("deps-broken: error: revision 1: installing requirements.txt failed: ERROR:"), "stderr: \(deploy.stderr)")
            #expect(deploy.stderr.contains("absent-1.0-py3-none-any.whl"), "stderr: \(deploy.stderr)")

            let api = try server.api("deps-broken")
            #expect(api.status == .error)
            #expect(api.message?.contains("No such file or directory") == true, "message: \(api.message ?? "nil")")
            #expect(api.message?.contains("run `tern logs deps-broken` for pip's output") == true)
            #expect(api.replicas.isEmpty, "no replica starts without its dependencies")
            let logs = try server.tern("logs", "deps-broken").stdout
            #expect(logs.contains("pip | ERROR: Could not install packages"), "logs: \(logs)")
            #expect(try venvEntries(server) == before, "a failed build leaves nothing behind")

            let request = try await server.request("/deps-broken", body: Data("{}".utf8))
            #expect(request.status == 503)
            for _ in 0..<5 {
                let answer = try await answer("deps-a", on: server)
                #expect(answer["greeting"] as? String == "hello from ternfixturedep 1.0")
            }
            #expect(try server.api("deps-a").status == .live)
        }

        @Test("a new revision whose install fails is held: the serving revision keeps answering")
        func failedInstallOfANewRevisionIsHeld() async throws {
            let (server, _) = try await deployedDeps()
            let project = try Self.copyFixture("deps", in: server)
            let config = project.appendingPathComponent("tern.yaml")
            try SpecYAML.realtime(name: "deps-held").write(to: config, atomically: true, encoding: .utf8)
            let first = try server.tern("deploy", config.path, "--timeout", "120")
            #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
            try "./wheels/absent-1.0-py3-none-any.whl\n".write(
                to: project.appendingPathComponent("requirements.txt"), atomically: true, encoding: .utf8)
            let second = try server.tern("deploy", config.path, "--timeout", "120")
            #expect(second.status != 0)
            let api = try server.api("deps-held")
            #expect(api.status == .error)
            #expect(api.revision == 2)
            #expect(
                api.message?.hasSuffix("the update is held; 1 replica(s) of revision 1 keep serving") == true,
                "message: \(api.message ?? "nil")")
            #expect(api.readyReplicas == 1)
            let answer = try await answer("deps-held", on: server)
            #expect(answer["greeting"] as? String == "hello from ternfixturedep 1.0")
        }

        @Test("examples/requirements-demo deploys offline and answers sample.json with the package from its wheel")
        func example() async throws {
            let server = try Shared.require()
            let project = try scratchDirectory(in: server).appendingPathComponent("requirements-demo")
            try FileManager.default.copyItem(
                at: TestEnvironment.packageRoot.appendingPathComponent("examples/requirements-demo"), to: project)
            try? FileManager.default.removeItem(at: project.appendingPathComponent("wheels"))
            let build = try runCommand(TestEnvironment.python, ["build_wheel.py"], directory: project)
            #expect(build.status == 0, "\(build.stdout)\(build.stderr)")
            let deploy = try server.tern("deploy", project.path, "--timeout", "120")
            #expect(deploy.status == 0, "\(deploy.stdout)\n\(deploy.stderr)")
            let sample = try Data(contentsOf: project.appendingPathComponent("sample.json"))
            let response = try await server.request("/iris-features", body: sample)
            #expect(response.status == 200, "\(response.body)")
            let answer = try jsonObject(response.body)
            #expect(answer["label"] as? String == "setosa")
            #expect(answer["iris_features"] as? String == "1.0.0")
            #expect((answer["environment"] as? String)?.hasPrefix(server.home.path + "/venvs/") == true, "\(answer)")
        }

        @Test(".env and predictor.env set the replica's environment (predictor.env wins); python_path is on sys.path")
        func environmentAndPythonPath() async throws {
            let server = try Shared.require()
            try deployFixture("env-paths", on: server)
            let answer = try await answer("env-paths", on: server)
            #expect(answer["ONLY_DOTENV"] as? String == "dotenv-value")
            #expect(answer["ONLY_PREDICTOR_ENV"] as? String == "predictor-env-value")
            #expect(answer["SHARED"] as? String == "from-predictor-env")
            #expect(answer["pathhelper"] as? String == "pathhelper from lib")
            #expect(answer["pathhelper_file"] as? String == "lib/pathhelper.py")
            // No requirements.txt: the replica runs the configured Python, with no environment built.
            let logs = try server.tern("logs", "env-paths").stdout
            #expect(!logs.contains("requirements.txt"), "logs: \(logs)")
        }
    }
}
