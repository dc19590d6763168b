import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// `slow-init` under `name`, loading for `seconds` in `__init__`.
private func slowInitYAML(_ name: String, seconds: Double) -> String {
    SpecYAML.realtime(name: name, config: ["init_seconds": "\(seconds)"])
}

/// SIGKILLs `pid` if it is still a replica process (never a reused pid of something else).
private func killIfReplica(_ pid: Int32) {
    guard ProcessTree.isAlive(pid), commandLine(of: pid).contains("tern_runtime") else { return }
    kill(pid, SIGKILL)
}

extension EndToEnd {
    /// Liveness (C27c): a ready replica that stops answering `health` frames is killed and
    /// replaced; a long prediction is not mistaken for a hung replica.
    @Suite(.serialized, .sharedServer("--health-interval-seconds", "1"))
    struct HealthCheckLiveness {
        @Test("a replica stopped with SIGSTOP is killed after 3 unanswered health checks and replaced; the API serves again")
        func stoppedReplicaIsReplaced() async throws {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            let before = try #require(try server.api("echo").replicas.first)
            let oldPID = try #require(before.pid)
            defer { killIfReplica(oldPID) }  // never leave a stopped process behind

            // processes_per_replica 1: the main process is the worker.
            #expect(kill(oldPID, SIGSTOP) == 0)
            let stoppedAt = Date()
            var replaced: ReplicaDocument?
            try await server.waitUntil(timeout: 15, "the stopped replica to be replaced") {
                let api = try await apiInBackground(server, "echo")
                replaced = api.replicas.first
                return api.status == .live && replaced?.state == .ready && replaced?.pid.map { $0 != oldPID } == true
            }
            let elapsed = Date().timeIntervalSince(stoppedAt)
            let replica = try #require(replaced)
            #expect(elapsed < 12, "replaced after \(elapsed) s")
            #expect(replica.id == before.id)
            #expect(replica.restarts >= 1)
            #expect(replica.lastExit == "not answering health checks", "last_exit: \(replica.lastExit ?? "nil")")
            // The whole group was SIGKILLed, stopped or not.
            #expect(await survivors(of: [oldPID], within: 5).isEmpty, "the stopped replica is still alive")

            let answer = try await server.request("/echo", body: Data(#"{"a":1}"#.utf8))
            #expect(answer.status == 200, "\(answer.body)")
            let logs = try server.tern("logs", "echo").stdout
            #expect(
                logs.contains("replica \(before.id) did not answer 3 health checks in a row; restarting it"),
                "tern logs:\n\(logs)")
        }

        @Test("a 6 s prediction with health checks every second is not killed and answers 200")
        func longPredictionIsNotKilled() async throws {
            let server = try Shared.require()
            try deployFixture("slow", on: server)
            try await server.waitUntilLive("slow")
            let before = try #require(try server.api("slow").replicas.first)

            let answer = try await server.request("/slow", body: sleepBody(6))
            #expect(answer.status == 200, "\(answer.body)")
            #expect(try jsonObject(answer.body)["slept"] as? Double == 6)

            let after = try #require(try server.api("slow").replicas.first)
            #expect(after.pid == before.pid)
            #expect(after.restarts == 0)
            #expect(after.state == .ready)
            let logs = try server.tern("logs", "slow").stdout
            #expect(!logs.contains("health check"), "tern logs:\n\(logs)")
        }

        @Test("a 2 s __init__ within the default start-up budget becomes live without a restart")
        func slowInitInsideTheBudgetBecomesLive() async throws {
            let server = try Shared.require()
            try await deployExpectingSuccess(slowInitYAML("init-two-seconds", seconds: 2), predictorOf: "slow-init", on: server)
            let api = try server.api("init-two-seconds")
            #expect(api.status == .live)
            #expect(api.replicas.first?.restarts == 0)
            #expect(api.replicas.first?.lastExit == nil)
        }
    }

    /// Start-up budget (C31): a predictor still loading past `--startup-timeout-seconds` is killed
    /// and the API shows `error (init failed)`.
    @Suite(.serialized, .sharedServer("--startup-timeout-seconds", "3"))
    struct HealthCheckStartupBudget {
        @Test("an __init__ of 30 s with a 3 s budget makes the API `error (init failed)` saying it timed out")
        func initPastTheBudgetIsAnInitFailure() async throws {
            let server = try Shared.require()
            let startedAt = Date()
            let deploy = try await deployProject(
                slowInitYAML("init-too-slow", seconds: 30), predictorOf: "slow-init", on: server)
            #expect(deploy.status != 0, "deploy must fail: \(deploy.stdout)")
            #expect(deploy.stderr.contains("error (init failed)"), "stderr: \(deploy.stderr)")

            var api = try server.api("init-too-slow")
            try await server.waitUntil(timeout: 10, "init-too-slow to show its error") {
                api = try await apiInBackground(server, "init-too-slow")
                return api.status == .errorInitFailed
            }
            let elapsed = Date().timeIntervalSince(startedAt)
            #expect(elapsed < 12, "error shown after \(elapsed) s")
            #expect(api.status.rawValue == "error (init failed)")
            let message = try #require(api.message)
            #expect(message.contains("timed out after 3 s"), "message: \(message)")
            #expect(api.replicas.first?.lastExit == "init timed out after 3 s")
            #expect(api.readyReplicas == 0)

            let logs = try server.tern("logs", "init-too-slow").stdout
            #expect(logs.contains("was still loading its predictor after 3 s"), "tern logs:\n\(logs)")
        }
    }
}
