import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// An echo API whose replica runs two worker processes (so "no child left" covers forked workers).
let twoWorkerEcho = SpecYAML.realtime(name: "echo2", predictor: ["processes_per_replica": 2])

/// Deploys `echo2` (two workers) and `counter` on `server`; returns every process below the server.
private func deployTwoAPIs(on server: TestServer) async throws -> Set<Int32> {
    let config = try makeProject(yaml: twoWorkerEcho, predictorOf: "echo", in: server)
    let deploy = try server.tern("deploy", config.path, "--timeout", "60")
    #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
    try deployFixture("counter", on: server)
    try await server.waitUntilLive("echo2")
    try await server.waitUntilLive("counter")
    let replicas = replicaProcesses(of: try server.api("echo2")).union(replicaProcesses(of: try server.api("counter")))
    // Two workers of echo2 plus at least the main processes of both replicas.
    #expect(replicas.count >= 4, "replica processes: \(replicas.map { commandLine(of: $0) })")
    let descendants = server.descendantPIDs()
    #expect(replicas.isSubset(of: descendants))
    return descendants
}

extension EndToEnd {
    /// `tern delete` stops exactly one API.
    @Suite(.serialized, .sharedServer())
    struct DeleteAPI {
        @Test("tern delete stops every process of the API's replicas; its endpoint answers 404; other APIs keep serving")
        func deleteStopsReplicasAndRemovesTheEndpoint() async throws {
            let server = try Shared.require()
            _ = try await deployTwoAPIs(on: server)
            let deleted = replicaProcesses(of: try server.api("echo2"))
            let kept = replicaProcesses(of: try server.api("counter"))
            #expect(!deleted.isEmpty)

            let result = try server.tern("delete", "echo2")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("Deleted echo2"))

            let response = try await server.request("/echo2", body: Data(#"{"a":1}"#.utf8))
            #expect(response.status == 404)
            #expect(try errorObject(response.body)["kind"] as? String == "not_found")

            let left = await survivors(of: deleted, within: 10)
            #expect(left.isEmpty, "still running after delete: \(left.map { commandLine(of: $0) })")
            #expect(processes(mentioning: server.home.path + "/run/echo2-").isEmpty)

            let get = try server.tern("get", "echo2")
            #expect(get.status != 0)
            #expect(get.stderr.contains("not deployed"), "stderr: \(get.stderr)")
            #expect(!(try server.tern("get").stdout.contains("echo2")))

            // The other API is untouched.
            #expect(kept.allSatisfy(ProcessTree.isAlive))
            let counter = try await server.request("/counter", body: Data("{}".utf8))
            #expect(counter.status == 200)
        }
    }

    /// Stopping `tern serve`, however it is stopped, leaves no replica behind.
    @Suite(.serialized)
    struct ServerShutdown {
        @Test("tern down stops the server and leaves no replica process running")
        func ternDownLeavesNoProcess() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let recorded = try await deployTwoAPIs(on: server)

            let down = try server.tern("down", "--timeout", "30")
            #expect(down.status == 0, "\(down.stdout)\(down.stderr)")
            #expect(down.stdout.contains("The Tern server stopped."))
            #expect(try await server.waitForExit(timeout: 30) == 0)

            let left = await survivors(of: recorded, within: 10)
            #expect(left.isEmpty, "still running after tern down: \(left.map { commandLine(of: $0) })")
            #expect(processes(mentioning: server.home.path).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: server.home.appendingPathComponent("server.json").path))
        }

        @Test("SIGTERM to tern serve stops it with exit 0 and leaves no replica process running")
        func sigtermLeavesNoProcess() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let recorded = try await deployTwoAPIs(on: server)

            #expect(try await server.stop(timeout: 30) == 0)
            let left = await survivors(of: recorded, within: 10)
            #expect(left.isEmpty, "still running after SIGTERM: \(left.map { commandLine(of: $0) })")
            #expect(processes(mentioning: server.home.path).isEmpty)
        }

        @Test("replicas do not outlive a tern serve killed with SIGKILL")
        func sigkillOfServeLeavesNoProcess() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let recorded = try await deployTwoAPIs(on: server)

            let pid = try #require(server.process?.processIdentifier)
            #expect(kill(pid, SIGKILL) == 0)
            _ = try await server.waitForExit(timeout: 10)
            // Replicas watch their parent pid every 0.5 s and kill their process group.
            let left = await survivors(of: recorded, within: 10)
            let stray = processes(mentioning: server.home.path)
            #expect(left.isEmpty, "still running after SIGKILL of tern serve: \(left.map { commandLine(of: $0) })")
            #expect(stray.isEmpty)
            // Do not leave them running when the expectation failed.
            for pid in left.union(stray.keys) { kill(pid, SIGKILL) }
        }
    }
}
