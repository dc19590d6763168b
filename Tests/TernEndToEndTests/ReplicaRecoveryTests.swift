import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Replicas that die are restarted; the gateway survives them.
    @Suite(.serialized, .sharedServer())
    struct ReplicaRecovery {
        /// Polls the gateway's `GET /healthz` until cancelled; returns (checks, failures).
        private func pollHealth(_ server: TestServer) -> Task<(checks: Int, failures: [String]), Never> {
            Task {
                var checks = 0
                var failures: [String] = []
                while !Task.isCancelled {
                    do {
                        let response = try await server.request("/healthz", method: "GET", contentType: nil)
                        checks += 1
                        if response.status != 200 { failures.append("\(response.status) \(response.body)") }
                    } catch {
                        if Task.isCancelled { break }
                        failures.append("\(error)")
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
                return (checks, failures)
            }
        }

        @Test("a replica killed with SIGKILL is restarted with a new pid and serves again; the gateway stays up")
        func sigkilledReplicaIsRestarted() async throws {
            let server = try Shared.require()
            try deployFixture("counter", on: server)
            try await server.waitUntilLive("counter")
            let first = try await server.request("/counter", body: Data("{}".utf8))
            #expect(first.status == 200)

            let before = try #require(try server.api("counter").replicas.first)
            let oldPID = try #require(before.pid)
            let health = pollHealth(server)
            #expect(kill(oldPID, SIGKILL) == 0)

            var restarted: ReplicaDocument?
            try await server.waitUntil(timeout: 60, "the killed replica to be restarted and ready") {
                let api = try server.api("counter")
                restarted = api.replicas.first
                return api.status == .live && restarted?.state == .ready && restarted?.pid != nil && restarted?.pid != oldPID
            }
            let replica = try #require(restarted)
            #expect(replica.id == before.id)
            #expect(replica.restarts >= 1)
            #expect(replica.lastExit?.contains("signal 9") == true, "last_exit: \(replica.lastExit ?? "nil")")
            #expect(!ProcessTree.isAlive(oldPID))

            // A fresh process: its call counter starts again at 1.
            let answer = try await server.request("/counter", body: Data("{}".utf8))
            #expect(answer.status == 200)
            #expect(try jsonObject(answer.body)["calls"] as? Int == 1)

            health.cancel()
            let (checks, failures) = await health.value
            #expect(checks > 0)
            #expect(failures.isEmpty, "gateway /healthz failed: \(failures.prefix(3))")
            #expect(server.process?.isRunning == true)
        }

        @Test("a predictor that kills its own process gets 502 replica_failed, and the replica comes back")
        func replicaDyingMidRequestAnswers502() async throws {
            let server = try Shared.require()
            try deployFixture("boom", on: server)
            try await server.waitUntilLive("boom")
            let oldPID = try #require(try server.api("boom").replicas.first?.pid)

            let response = try await server.request("/boom", body: Data(#"{"mode":"os_exit"}"#.utf8))
            #expect(response.status == 502)
            let error = try errorObject(response.body)
            #expect(error["kind"] as? String == "replica_failed")
            #expect(error["api"] as? String == "boom")

            try await server.waitUntil(timeout: 60, "boom to be restarted") {
                let api = try server.api("boom")
                return api.status == .live && api.replicas.first?.pid.map { $0 != oldPID } == true
            }
            let ok = try await server.request("/boom", body: Data(#"{"mode":"ok"}"#.utf8))
            #expect(ok.status == 200)
            #expect(try server.api("boom").replicas.first.map { $0.restarts >= 1 } == true)
            let health = try await server.request("/healthz", method: "GET", contentType: nil)
            #expect(health.status == 200)
            #expect(server.process?.isRunning == true)
        }
    }
}
