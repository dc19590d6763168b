import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// A predictor whose `__init__` raises (fixture `bad-init`).
    @Suite(.serialized, .sharedServer())
    struct InitFailure {
        /// The one deploy of `bad-init` per server, and when it started.
        private static let deploys = PerServer<(result: CommandResult, startedAt: Date)>()

        private func deployedBadInit() async throws -> (TestServer, CommandResult, Date) {
            let server = try Shared.require()
            let deploy = try await Self.deploys.value(for: server) {
                let startedAt = Date()
                let path = TestEnvironment.fixture("bad-init").appendingPathComponent("tern.yaml").path
                return (try server.tern("deploy", path, "--timeout", "60"), startedAt)
            }
            return (server, deploy.result, deploy.startedAt)
        }

        @Test("tern deploy of a predictor whose __init__ raises exits non-zero naming the status and the exception")
        func deployFails() async throws {
            let (_, result, _) = try await deployedBadInit()
            #expect(result.status != 0)
            #expect(result.stderr.contains("error (init failed)"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("model file is corrupt"), "stderr: \(result.stderr)")
        }

        @Test("the API shows `error (init failed)` with the exception's message")
        func statusIsInitFailed() async throws {
            let (server, _, _) = try await deployedBadInit()
            try await server.waitUntil(timeout: 30, "bad-init to show its error") {
                try server.api("bad-init").status == .errorInitFailed
            }
            let api = try server.api("bad-init")
            #expect(api.status.rawValue == "error (init failed)")
            #expect(api.message?.contains("RuntimeError: model file is corrupt") == true, "message: \(api.message ?? "nil")")
            #expect(api.readyReplicas == 0)
            #expect(api.requestedReplicas == 1)

            let table = try server.tern("get")
            #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("bad-init") && $0.contains("error (init failed)") })

            let request = try await server.request("/bad-init", body: Data("{}".utf8))
            #expect(request.status == 503)
            #expect(try errorObject(request.body)["kind"] as? String == "no_ready_replica")
        }

        @Test("tern logs shows the traceback of the failed __init__")
        func logsShowTheTraceback() async throws {
            let (server, _, _) = try await deployedBadInit()
            var logs = ""
            try await server.waitUntil(timeout: 30, "the traceback in tern logs") {
                logs = try server.tern("logs", "bad-init").stdout
                return logs.contains("RuntimeError: model file is corrupt")
            }
            #expect(logs.contains("Traceback (most recent call last):"))
            #expect(logs.contains(#"raise RuntimeError("model file is corrupt")"#))
        }

        @Test("a replica that fails to load is restarted with backoff, not in a tight loop")
        func restartsBackOff() async throws {
            let (server, _, startedAt) = try await deployedBadInit()
            // Backoff 1, 2, 4 … s: about 3 restarts in the first 6 s; a tight loop makes dozens.
            let wait = 6.5 - Date().timeIntervalSince(startedAt)
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            let replica = try #require(try server.api("bad-init").replicas.first)
            #expect(replica.restarts >= 2, "it should be retried: \(replica.restarts) restarts")
            #expect(replica.restarts <= 4, "restart loop: \(replica.restarts) restarts in 6.5 s")
            #expect(replica.lastExit?.contains("code 3") == true, "last_exit: \(replica.lastExit ?? "nil")")
        }

        @Test("running tern deploy again on the unchanged, failing API still exits non-zero naming the status")
        func redeployOfFailingAPIFails() async throws {
            let (server, first, _) = try await deployedBadInit()
            #expect(first.status != 0)
            let path = TestEnvironment.fixture("bad-init").appendingPathComponent("tern.yaml").path
            let again = try server.tern("deploy", path, "--timeout", "60")
            #expect(again.stdout.contains("unchanged"), "stdout: \(again.stdout)")
            #expect(again.status != 0, "a deploy must not report success while the API is in error")
            #expect(again.stderr.contains("error (init failed)"), "stderr: \(again.stderr)")
        }
    }
}
