import Foundation
import Testing
import TernClient
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// A project of fixture `version` whose predictor answers `version`, with a `requirements.txt`
/// holding only a comment that names `environment` (by default the version): each gets a
/// virtual environment of its own (pip installs nothing, offline, in about a second). Returns
/// the project folder. `modelBytes` random bytes go into `model.bin` (0: no such file).
private func versionProject(
    _ version: String, name: String = "durable", environment: String? = nil, modelBytes: Int = 0, in server: TestServer
) throws -> URL {
    let config = try makeProject(
        yaml: SpecYAML.realtime(name: name, config: ["version": .scalar(version)]), predictorOf: "version", in: server)
    let folder = config.deletingLastPathComponent()
    try "# environment of \(environment ?? version)\n".write(
        to: folder.appendingPathComponent("requirements.txt"), atomically: true, encoding: .utf8)
    if modelBytes > 0 {
        let bytes = (0..<modelBytes / 8).flatMap { _ in withUnsafeBytes(of: UInt64.random(in: 0...UInt64.max)) { Array($0) } }
        try Data(bytes).write(to: folder.appendingPathComponent("model.bin"))
    }
    return folder
}

/// The control-plane client of `server` (the CLI's `tern deploy` is not used where the server
/// dies under it).
private func client(of server: TestServer) throws -> TernClient {
    let token = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    return TernClient(controlURL: "http://127.0.0.1:\(server.controlPort)", token: token)
}

/// Entries of a folder of the server's home (`bundles`, `venvs`), sorted.
private func entries(_ folder: String, of server: TestServer) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: server.home.appendingPathComponent(folder).path)) ?? []).sorted()
}

/// Bytes of every regular file under `url` (not following links).
private func diskBytes(_ url: URL) -> Int {
    guard let walker = FileManager.default.enumerator(
        at: url, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey, .isSymbolicLinkKey], options: [])
    else { return 0 }
    var total = 0
    for case let file as URL in walker {
        let values = try? file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
        if values?.isRegularFile == true { total += values?.fileSize ?? 0 }
    }
    return total
}

/// Bytes of Tern's state in the server's home: every entry but the tests' own project folders
/// (`scratch-*`, see ``scratchDirectory(in:)``).
private func stateBytes(_ server: TestServer) -> Int {
    entries("", of: server).filter { !$0.hasPrefix("scratch-") }
        .map { diskBytes(server.home.appendingPathComponent($0)) }.reduce(0, +)
}

extension EndToEnd {
    /// Tern's state across crashes and restarts of `tern serve` (docs/reliability.md, State
    /// durability): the test-only crash hook `TERN_TEST_CRASH_AT`, stored replica counts, and
    /// garbage collection of bundles and environments.
    @Suite(.serialized)
    struct StateDurability {
        @Test(
            "a SIGKILL of tern serve at each step of a deploy leaves the old or the new revision, answering, with tern get consistent and no partial bundle or environment in use"
        )
        func crashAtEveryDeployStep() async throws {
            let server = try TestServer()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await server.start()
            let first = try versionProject("v0", in: server)
            let deploy = try server.tern("deploy", first.appendingPathComponent("tern.yaml").path, "--timeout", "120")
            try #require(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(try await server.stop() == 0)

            var serving = "v0"
            var revision = 1
            var matrix: [String] = []
            let storedIndex = try #require(DeployStep.allCases.firstIndex(of: .stored))
            for (index, step) in DeployStep.allCases.enumerated() {
                try await server.start(environment: [DeployCrashHook.variable: step.rawValue])
                try await server.waitUntilLive("durable", timeout: 120)
                let before = try await server.request("/durable", body: Data("{}".utf8))
                #expect(before.status == 200 && before.body == serving, "\(step): before: \(before.status) \(before.body)")

                let next = "v\(index + 1)"
                let project = try versionProject(next, in: server)
                let bundle = try ProjectBundler(directory: project).makeBundle()
                let client = try client(of: server)
                let deploying = Task { try await client.deploy(bundle: bundle, configPath: "tern.yaml") }
                let status = try await server.waitForExit(timeout: 120)
                _ = await deploying.result  // answered (a late step) or cut off: either is fine
                #expect(status == SIGKILL, "\(step): tern serve exited with \(status), not killed by the hook")
                let output = server.home.appendingPathComponent("serve-output.log")
                let log = try String(contentsOf: output, encoding: .utf8)
                #expect(log.hasSuffix("\(DeployCrashHook.variable)=\(step) reached: killing this process with SIGKILL\n"), "\(step)")
                // The replicas watch their parent: none outlives the server.
                try await server.waitUntil(timeout: 15, "\(step): the replicas of the killed server to exit") {
                    processes(mentioning: server.home.path).isEmpty
                }

                try await server.start()
                try await server.waitUntilLive("durable", timeout: 120)
                let expectNew = index >= storedIndex
                let answer = try await server.request("/durable", body: Data("{}".utf8))
                #expect(answer.status == 200, "\(step): \(answer.status) \(answer.body)")
                #expect(answer.body == (expectNew ? next : serving), "\(step): serves \(answer.body)")
                if answer.body == next { revision += 1 }
                let api = try server.api("durable")
                #expect(api.status == .live && api.revision == revision, "\(step): \(api.status) revision \(api.revision)")
                #expect(api.requestedReplicas == 1 && api.readyReplicas == 1, "\(step): \(api.requestedReplicas)/\(api.readyReplicas)")
                #expect(api.replicas.allSatisfy { $0.revision == revision }, "\(step): \(api.replicas.map(\.revision))")
                let table = try server.tern("get")
                #expect(table.status == 0 && table.stdout.contains("durable"), "\(table.stdout)\(table.stderr)")
                // Garbage collection at start: only the deployed bundle and its environment are
                // left; no staging folder of an extraction and no unpublished environment.
                try await server.waitUntil(timeout: 20, "\(step): one bundle and one environment on disk") {
                    entries("bundles", of: server).count == 1 && entries("venvs", of: server).count == 2
                }
                if step == .extracting {
                    // The crash left a staging folder; the collection at start removed it.
                    let restarted = try String(contentsOf: output, encoding: .utf8).dropFirst(log.count)
                    #expect(restarted.contains("removing unused bundles") && restarted.contains(".tmp-"), "\(restarted)")
                }
                let venvs = entries("venvs", of: server)
                #expect(venvs.count == 2 && venvs[1].hasPrefix(venvs[0] + "-"), "\(step): venvs \(venvs)")
                #expect(!entries("bundles", of: server)[0].contains("."), "\(step): bundles \(entries("bundles", of: server))")
                matrix.append("| `\(step)` | \(answer.body == next ? "new (\(next))" : "old (\(serving))") | \(api.status.rawValue), revision \(api.revision) |")
                serving = answer.body
                #expect(try await server.stop() == 0)
            }
            print("[durability] crash matrix:\n" + matrix.joined(separator: "\n"))
        }

        @Test("TERN_TEST_CRASH_AT naming no step stops tern serve at start with the list of steps")
        func unknownCrashStepIsRefused() async throws {
            let home = try TestEnvironment.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: home) }
            let result = try runCommand(
                TestEnvironment.ternBinary,
                ["serve", "--home", home.path, "--port", String(TestEnvironment.freePort()),
                 "--control-port", String(TestEnvironment.freePort())],
                environment: [DeployCrashHook.variable: "halfway"])
            #expect(result.status == 1)
            #expect(
                result.stderr.contains(
                    "TERN_TEST_CRASH_AT=halfway names no deploy step; use one of: received, extracting, extracted, validated, stored, applied, venv-created, pip-installed, rolling, rolled-out"),
                "\(result.stderr)")
        }

        @Test("an autoscaled API comes back after a SIGKILL and restart of tern serve with the replica count it had, not init_replicas")
        func autoscaledCountSurvivesRestart() async throws {
            let server = try TestServer()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await server.start(extraArguments: ["--autoscaler-tick-seconds", "1"])
            // Upscale quickly; downscale only after 5 minutes (and not within 5 minutes of a start).
            let yaml = SpecYAML.realtime(
                name: "scaled", minReplicas: 1, maxReplicas: 3,
                autoscaling: ["target_replica_concurrency": "1", "window": "2s", "upscale_stabilization_period": "1s"])
            try await deployExpectingSuccess(yaml, predictorOf: "slow", on: server)
            let load = LoadGenerator(url: server.gatewayURL + "/scaled", clients: 2, body: sleepBody(0.5))
            do {
                try await server.waitUntil(timeout: 40, "scaled to reach 2 ready replicas") {
                    let api = try await apiInBackground(server, "scaled")
                    return api.requestedReplicas >= 2 && api.readyReplicas >= 2
                }
            } catch {
                _ = await load.stop()
                throw error
            }
            _ = await load.stop()
            let scaled = try server.api("scaled").requestedReplicas
            #expect((2...3).contains(scaled))

            let pid = try #require(server.process?.processIdentifier)
            kill(pid, SIGKILL)
            #expect(try await server.waitForExit() == SIGKILL)
            try await server.waitUntil(timeout: 15, "the replicas of the killed server to exit") {
                processes(mentioning: server.home.path).isEmpty
            }
            try await server.start(extraArguments: ["--autoscaler-tick-seconds", "1"])
            try await server.waitUntil(timeout: 60, "scaled to be live with \(scaled) ready replicas") {
                let api = try server.api("scaled")
                return api.status == .live && api.readyReplicas == scaled
            }
            let restored = try server.api("scaled")
            #expect(restored.requestedReplicas == scaled, "requested \(restored.requestedReplicas), before the restart \(scaled)")
            #expect(restored.replicas.count == scaled)
            // Idle now, but downscale_stabilization_period (5 min) holds the count.
            try await Task.sleep(for: .seconds(3))
            #expect(try server.api("scaled").requestedReplicas == scaled)
            #expect(try await server.stop() == 0)
        }

        @Test(
            "bundles and environments no deployed revision uses are deleted after deploys, deletes and at start; 20 deploys of changing projects leave one of each"
        )
        func garbageIsCollected() async throws {
            let server = try TestServer()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await server.start()
            let client = try client(of: server)
            func deploy(_ version: String, name: String = "durable", environment: String? = nil, modelBytes: Int = 0) async throws {
                let project = try versionProject(version, name: name, environment: environment, modelBytes: modelBytes, in: server)
                let result = try await client.deploy(bundle: ProjectBundler(directory: project).makeBundle(), configPath: "tern.yaml")
                #expect(result.apis.first?.action != .unchanged, "\(version): \(result.apis)")
                try await server.waitUntil(timeout: 120, "\(name) to serve \(version)") {
                    let api = try await apiInBackground(server, name)
                    let answer = try? await server.request("/\(name)", body: Data("{}".utf8))
                    return api.status == .live && api.replicas.count == 1 && answer?.body == version
                }
            }
            func settled(bundles: Int, venvs: Int, _ what: String) async throws {
                try await server.waitUntil(timeout: 20, "\(what): \(bundles) bundle(s) and \(venvs) venv entries") {
                    entries("bundles", of: server).count == bundles && entries("venvs", of: server).count == venvs
                }
            }

            try await deploy("a")
            let bundleA = entries("bundles", of: server)
            let venvA = entries("venvs", of: server)
            #expect(bundleA.count == 1 && venvA.count == 2, "\(bundleA) \(venvA)")
            try await deploy("b")
            // A's bundle and environment go once its replica has stopped (the next collection:
            // this deploy's, if the rolling update was over, else the next one's).
            try await deploy("c", name: "other")
            try await settled(bundles: 2, venvs: 4, "after a, b and other c")
            #expect(Set(entries("bundles", of: server)).isDisjoint(with: bundleA), "A's bundle is still there")
            #expect(Set(entries("venvs", of: server)).isDisjoint(with: venvA), "A's environment is still there")
            try await client.deleteAPI("other")
            try await settled(bundles: 1, venvs: 2, "after deleting other")

            // 20 deploys of changing projects: a new bundle each (with a 1 MiB model.bin), a new
            // environment every 4th. Without collection each would stay: `kept` adds up their
            // sizes as they appear.
            let before = stateBytes(server)
            var sizes: [Int] = []
            var kept = before
            // The new revision's bundle and environment are the ones not seen before: they are in
            // use, so no collection can remove them while they are measured (a draining one can go
            // at any moment, so it is never the one measured).
            var seenBundles = Set(entries("bundles", of: server))
            var seenVenvs = Set(entries("venvs", of: server))
            for index in 1...20 {
                try await deploy("r\(index)", environment: "e\((index + 3) / 4)", modelBytes: 1 << 20)
                sizes.append(stateBytes(server))
                let newBundles = Set(entries("bundles", of: server)).subtracting(seenBundles)
                #expect(newBundles.count == 1, "r\(index): new bundles \(newBundles)")
                for bundle in newBundles {
                    kept += diskBytes(server.home.appendingPathComponent("bundles/" + bundle))
                }
                seenBundles.formUnion(newBundles)
                let newVenvs = Set(entries("venvs", of: server).filter { $0.contains("-") }).subtracting(seenVenvs)
                #expect(newVenvs.count == (index % 4 == 1 ? 1 : 0), "r\(index): new environments \(newVenvs)")
                for venv in newVenvs {
                    kept += diskBytes(server.home.appendingPathComponent("venvs/" + venv))
                }
                seenVenvs.formUnion(newVenvs)
            }
            try await settled(bundles: 1, venvs: 2, "after 20 deploys")
            let settledBytes = stateBytes(server)
            #expect(try await server.stop() == 0)
            // At start, with a leftover of a crashed extraction and of a crashed install.
            let bundles = server.home.appendingPathComponent("bundles")
            try FileManager.default.createDirectory(
                at: bundles.appendingPathComponent("0123456789abcdef.tmp-crashed/sub"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                at: bundles.appendingPathComponent("fedcba9876543210"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                at: server.home.appendingPathComponent("venvs/0123456789abcdef-1234abcd/bin"), withIntermediateDirectories: true)
            try await server.start()
            try await server.waitUntilLive("durable", timeout: 120)
            try await settled(bundles: 1, venvs: 2, "after a restart")
            let after = stateBytes(server)
            let largest = sizes.max() ?? 0
            print(
                "[durability] TERN_HOME bytes: \(before) before the 20 deploys; after them \(sizes.last!) with garbage collection, "
                    + "\(kept) without (the bundles and environments they made, added up); \(settledBytes) once the last old replica stopped; after a restart: \(after); after each: \(sizes)")
            // Bounded: at most the deployed bundle and a draining one's (2 MiB) above the start,
            // give or take logs; without collection it would be 20 MiB more.
            #expect(largest < before + 3 << 20, "\(sizes)")
            #expect(after < before + 2 << 20, "\(after)")
            #expect(kept > before + 20 << 20, "\(kept)")
            #expect(try await server.stop() == 0)
        }
    }
}
