import Foundation
import Testing
import TernCore
import TernTesting

/// `compute` requests, the `compute.mem_limit` limit (case C12, cortex#1233) and the
/// `compute.mem` request, with fixture `hog`.
extension EndToEnd {
    @Suite(.serialized)
    enum ResourcesTests {}
}

/// The out-of-memory checks, run once per memory limiter.
private enum OutOfMemoryChecks {
    /// The server's own output (`HOME/serve-output.log`).
    static func serverLog(_ server: TestServer) -> String {
        (try? String(contentsOf: server.home.appendingPathComponent("serve-output.log"), encoding: .utf8)) ?? ""
    }

    /// (a) `__init__` allocates 300 MiB under `compute.mem_limit: 128Mi`.
    static func initOverLimit(name: String, on server: TestServer) async throws {
        let config = try makeProject(
            yaml: SpecYAML.realtime(name: name, config: ["init_mib": 300], compute: ["cpu": "100m", "mem_limit": "128Mi"]),
            predictorOf: "hog", in: server)
        let deploy = try server.tern("deploy", config.path, "--timeout", "60")
        #expect(deploy.status != 0)
        #expect(deploy.stderr.contains("error (out of memory)"), "stderr: \(deploy.stderr)")

        let api = try server.api(name)
        #expect(api.status == .errorOutOfMemory)
        #expect(api.status.rawValue == "error (out of memory)")
        let message = api.message ?? ""
        #expect(message.contains("killed: out of memory (limit 128Mi)"), "message: \(message)")
        #expect(message.contains("compute.mem"), "message: \(message)")
        #expect(api.readyReplicas == 0)
        #expect(api.replicas.first?.lastExit == "killed: out of memory (limit 128Mi)")

        var logs = ""
        try await server.waitUntil(timeout: 10, "the out-of-memory line in tern logs") {
            logs = try server.tern("logs", name).stdout
            return logs.contains("killed: out of memory (limit 128Mi)")
        }
        let line = logs.split(separator: "\n").first { $0.contains("killed: out of memory (limit 128Mi)") } ?? ""
        #expect(line.contains(" tern | replica \(name)-"), "line: \(line)")
        #expect(logs.contains("allocating 300 MiB in __init__"))
        #expect(try server.tern("delete", name).status == 0)
    }

    /// (b) `predict` allocates 300 MiB under `compute.mem_limit: 128Mi`: 502 at once, then a restart.
    static func predictOverLimit(name: String, holdSeconds: Double, on server: TestServer) async throws {
        let config = try makeProject(
            yaml: SpecYAML.realtime(name: name, compute: ["cpu": "100m", "mem_limit": "128Mi"]), predictorOf: "hog", in: server)
        let deploy = try server.tern("deploy", config.path, "--timeout", "60")
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        let small = try await server.request("/\(name)", body: try json(["mib": 1]))
        #expect(small.status == 200, "body: \(small.body)")
        let oldPID = try #require(try server.api(name).replicas.first?.pid)

        let started = Date()
        let big = try await server.request("/\(name)", body: try json(["mib": 300, "hold_s": holdSeconds]))
        let elapsed = Date().timeIntervalSince(started)
        #expect(big.status == 502, "body: \(big.body)")
        #expect(elapsed < 5, "the out-of-memory request took \(elapsed) s")

        try await server.waitUntil(timeout: 60, "\(name) to be restarted after the out-of-memory kill") {
            let api = try server.api(name)
            return api.status == .live && api.replicas.first.map { $0.state == .ready && $0.pid != oldPID } == true
        }
        let again = try await server.request("/\(name)", body: try json(["mib": 1]))
        #expect(again.status == 200, "body: \(again.body)")

        let api = try server.api(name)
        let replica = try #require(api.replicas.first)
        #expect(replica.restarts >= 1)
        #expect(replica.lastExit == "killed: out of memory (limit 128Mi)")
        #expect(api.message?.contains("going over compute.mem_limit (limit 128Mi) 1 time(s)") == true, "message: \(api.message ?? "nil")")
        let logs = try server.tern("logs", name).stdout
        #expect(logs.contains("killed: out of memory (limit 128Mi)"))
        #expect(try server.tern("delete", name).status == 0)
    }
}

extension EndToEnd.ResourcesTests {
    /// The default limiter: the cgroup v1 memory controller where it is writable (as on CI).
    @Suite(.serialized, .sharedServer())
    struct DefaultMemoryLimiter {
        @Test("the server log says which memory limiter is active")
        func serverLogNamesTheLimiter() throws {
            let server = try Shared.require()
            let log = OutOfMemoryChecks.serverLog(server)
            #expect(
                log.contains("compute.mem_limit is enforced by the cgroup v1 memory controller")
                    || log.contains("compute.mem_limit is enforced by an RSS watchdog"), "server log: \(log)")
            #expect(log.contains("compute capacity for replicas:"))
        }

        @Test("an __init__ over compute.mem_limit shows `error (out of memory)` and a tern line in the logs")
        func initOverLimit() async throws {
            try await OutOfMemoryChecks.initOverLimit(name: "hog-init", on: try Shared.require())
        }

        @Test("a predict over compute.mem_limit gets 502 within 5 s, the replica restarts and serves again")
        func predictOverLimit() async throws {
            try await OutOfMemoryChecks.predictOverLimit(name: "hog", holdSeconds: 0, on: try Shared.require())
        }

        @Test("with the cgroup limiter, a replica runs in its own memory cgroup")
        func replicaRunsInItsCgroup() async throws {
            let server = try Shared.require()
            guard OutOfMemoryChecks.serverLog(server).contains("cgroup v1 memory controller") else { return }
            try deployFixture("hog", on: server)
            let replica = try #require(try server.api("hog").replicas.first)
            let pid = try #require(replica.pid)
            let cgroups = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
            #expect(cgroups.contains("/tern/\(replica.id)"), "cgroups: \(cgroups)")
            #expect(try server.tern("delete", "hog").status == 0)
        }
    }

    /// The fallback where no cgroup is writable: forced here with `--memory-limiter watchdog`.
    @Suite(.serialized, .sharedServer("--memory-limiter", "watchdog"))
    struct WatchdogMemoryLimiter {
        @Test("the server log names the RSS watchdog")
        func serverLogNamesTheWatchdog() throws {
            let log = OutOfMemoryChecks.serverLog(try Shared.require())
            #expect(log.contains("compute.mem_limit is enforced by an RSS watchdog"), "server log: \(log)")
        }

        @Test("an __init__ over compute.mem_limit shows `error (out of memory)` (watchdog)")
        func initOverLimit() async throws {
            try await OutOfMemoryChecks.initOverLimit(name: "hog-init", on: try Shared.require())
        }

        @Test("a predict over compute.mem_limit gets 502 within 5 s and the replica restarts (watchdog)")
        func predictOverLimit() async throws {
            // The watchdog samples every 250 ms: the predictor holds its memory for a second.
            try await OutOfMemoryChecks.predictOverLimit(name: "hog", holdSeconds: 1, on: try Shared.require())
        }
    }

    /// `tern serve --cpus 1`: requests beyond it wait.
    @Suite(.serialized, .sharedServer("--cpus", "1"))
    struct ComputeCapacity {
        private func project(
            name: String, replicas: Int, updateStrategy: SpecYAML.Mapping = [:], in server: TestServer
        ) throws -> URL {
            try makeProject(
                yaml: SpecYAML.realtime(
                    name: name, compute: ["cpu": "600m"], minReplicas: replicas, maxReplicas: replicas,
                    updateStrategy: updateStrategy),
                predictorOf: "echo", in: server)
        }

        @Test("a replica that does not fit waits, the API shows `compute unavailable` and what is missing; fewer replicas make it live")
        func replicasBeyondCapacityWait() async throws {
            let server = try Shared.require()
            let two = try project(name: "cap", replicas: 2, in: server)
            #expect(try server.tern("deploy", two.path, "--no-wait").status == 0)
            var api = try server.api("cap")
            try await server.waitUntil(timeout: 60, "one replica of cap to be ready and the other to wait") {
                api = try server.api("cap")
                return api.status == .computeUnavailable && api.readyReplicas == 1
            }
            #expect(api.status.rawValue == "compute unavailable")
            #expect(api.requestedReplicas == 2)
            let message = api.message ?? ""
            #expect(message.contains("waiting for compute: needs 600m CPU; free 400m CPU (not enough CPU)"), "message: \(message)")
            #expect(api.replicas.filter { $0.state == .starting && $0.pid == nil }.count == 1)
            // The replica that fits serves.
            let answer = try await server.request("/cap", body: try json(["x": 1]))
            #expect(answer.status == 200)
            #expect(try server.tern("logs", "cap").stdout.contains("waiting for compute: needs 600m CPU"))

            // One replica fits. Replacing it in place needs room for no extra replica.
            let one = try project(
                name: "cap", replicas: 1, updateStrategy: ["max_surge": 0, "max_unavailable": 1], in: server)
            let redeploy = try server.tern("deploy", one.path, "--timeout", "60")
            #expect(redeploy.status == 0, "\(redeploy.stdout)\(redeploy.stderr)")
            try await server.waitUntilLive("cap")
            api = try server.api("cap")
            #expect(api.readyReplicas == 1)
            #expect(api.requestedReplicas == 1)
            #expect(api.message == nil)
            #expect(try await server.request("/cap", body: try json(["x": 2])).status == 200)
            #expect(try server.tern("delete", "cap").status == 0)
        }

        @Test("a replica asking for a GPU on a machine without one waits with `compute unavailable`")
        func gpuWithoutGPUsWaits() async throws {
            let server = try Shared.require()
            // On a machine with GPUs, one would fit: nothing to check here.
            guard OutOfMemoryChecks.serverLog(server).contains(", 0 GPUs") else { return }
            let config = try makeProject(
                yaml: SpecYAML.realtime(name: "gpu", compute: ["cpu": "100m", "gpu": 1]), predictorOf: "echo", in: server)
            #expect(try server.tern("deploy", config.path, "--no-wait").status == 0)
            var api = try server.api("gpu")
            try await server.waitUntil(timeout: 30, "gpu to wait for compute") {
                api = try server.api("gpu")
                return api.status == .computeUnavailable
            }
            let message = api.message ?? ""
            #expect(message.contains("needs 100m CPU, 1 GPU(s); free "), "message: \(message)")
            #expect(message.contains("0 GPU(s) (not enough GPUs)"), "message: \(message)")
            #expect(message.contains("no GPU (`nvidia-smi -L` lists none)"), "message: \(message)")
            #expect(api.replicas.first?.pid == nil)
            #expect(try server.tern("delete", "gpu").status == 0)
        }
    }
}
