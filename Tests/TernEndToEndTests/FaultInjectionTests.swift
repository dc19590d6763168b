import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// Two replicas of `slow` (one slot each).
private let pairYAML = SpecYAML.realtime(name: "pair", minReplicas: 2, maxReplicas: 2)

/// Two replicas of `slow` with `networking.request_timeout: 1s`.
private let hangYAML = SpecYAML.realtime(
    name: "hang", networking: ["request_timeout": "1s"], minReplicas: 2, maxReplicas: 2)

/// `flood`: a thread writing 10 MB/s of 100-byte lines to stdout and stderr for 3 s (~30 MB).
private let floodYAML = SpecYAML.realtime(name: "flood", config: ["mb_per_second": "10", "seconds": "3"])

/// The cap of one API log file for this suite's server (`--max-log-bytes`).
private let logCap = 1 << 20

extension EndToEnd {
    /// The fast fault-injection scenarios of bench/faults/ (docs/reliability.md, "Faults under
    /// load"), each under steady load from real clients: a replica SIGKILLed, a predict that
    /// hangs, a replica flooding its output.
    @Suite(.serialized, .sharedServer("--max-log-bytes", "\(logCap)"))
    struct FaultInjection {
        private static let deploys = DeployOnce()

        /// Deploys `yaml` (fixture `fixture`) once per server and waits until `name` is live.
        private func deployed(_ name: String, _ yaml: String, fixture: String = "slow") async throws -> TestServer {
            let server = try Shared.require()
            try await Self.deploys.run(name, on: server) {
                try await deployExpectingSuccess(yaml, predictorOf: fixture, on: server)
            }
            try await server.waitUntilLive(name)
            return server
        }

        @Test("replica SIGKILL under load: only requests in flight at the kill fail (502 replica_failed); every later one succeeds")
        func replicaKilledUnderLoad() async throws {
            let server = try await deployed("pair", pairYAML)
            let before = try await apiInBackground(server, "pair")
            let victim = try #require(before.replicas.first?.pid)
            let load = LoadGenerator(url: server.gatewayURL + "/pair", clients: 4, body: sleepBody(0.02))
            try await Task.sleep(for: .seconds(1))

            let killedAt = ContinuousClock.now
            #expect(kill(victim, SIGKILL) == 0)
            try await server.waitUntil(timeout: 60, "the killed replica to be replaced and both ready") {
                let api = try await apiInBackground(server, "pair")
                return api.replicas.filter { $0.state == .ready && $0.pid != nil && $0.pid != victim }.count == 2
            }
            let recoveredAt = ContinuousClock.now
            try await Task.sleep(for: .seconds(1))
            let responses = await load.stop()

            let failed = responses.filter { $0.status != 200 }
            // On the failed part: in flight at the kill, or sent to the dead worker's connection in
            // the moment before the gateway saw it close (its write fails at once, and the broken
            // connection is dropped): sent within 250 ms of the kill.
            let onTheFailedPart = failed.filter { $0.sentAt <= killedAt + .milliseconds(250) && $0.finishedAt >= killedAt }
            #expect(responses.count > 50, "too little load: \(responses.count) requests")
            #expect(failed.count == onTheFailedPart.count, "failures not on the killed replica: \(failures(in: failed).prefix(5))")
            // At most the 4 clients' requests in flight, plus one refused write on the dead connection.
            #expect(failed.count <= 5, "more failures than requests on the killed replica: \(failures(in: failed).prefix(5))")
            #expect(failed.allSatisfy { $0.status == 502 && errorKind($0) == "replica_failed" }, "\(failures(in: failed).prefix(3))")
            let afterRecovery = responses.filter { $0.sentAt > recoveredAt }
            #expect(!afterRecovery.isEmpty)
            #expect(afterRecovery.allSatisfy { $0.status == 200 })
            #expect(!ProcessTree.isAlive(victim))
        }

        @Test("a predict that hangs gets 504 timeout at request_timeout; the other replica serves every other request")
        func hungPredictTimesOutWhileOthersAreServed() async throws {
            let server = try await deployed("hang", hangYAML)
            let load = LoadGenerator(url: server.gatewayURL + "/hang", clients: 2, body: sleepBody(0.01))
            try await Task.sleep(for: .milliseconds(500))

            // Sleeps 8 s on its replica; the gateway answers at 1 s.
            let hung = await LoadClient.post(server.gatewayURL + "/hang", body: sleepBody(8), timeout: .seconds(30))
            try await Task.sleep(for: .seconds(2))
            let responses = await load.stop()

            #expect(hung.status == 504, "\(hung.summary)")
            #expect(errorKind(hung) == "timeout")
            #expect(hung.elapsed >= .milliseconds(900) && hung.elapsed < .seconds(5), "answered after \(hung.elapsed)")
            #expect(responses.count > 20, "too little load: \(responses.count) requests")
            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).prefix(5))")
            let duringHang = responses.filter { $0.sentAt > hung.sentAt && $0.sentAt < hung.finishedAt }
            #expect(!duringHang.isEmpty, "no request was served while the predict hung")
        }

        @Test("a replica flooding stdout and stderr: its log is capped and rotated, `tern logs` still reads it, another API is served throughout")
        func outputFloodKeepsTheLogBoundedAndOthersServed() async throws {
            let server = try await deployed("pair", pairYAML)
            let load = LoadGenerator(url: server.gatewayURL + "/pair", clients: 2, body: sleepBody(0.005))
            _ = try await deployed("flood", floodYAML, fixture: "flood")
            let logs = server.home.appendingPathComponent("logs")
            let log = logs.appendingPathComponent("flood.log").path
            let rotated = log + ".1"
            // ~30 MB written in 3 s: wait for the rotated file, then for the flood's end.
            try await server.waitUntil(timeout: 30, "flood.log to be rotated") { FileManager.default.fileExists(atPath: rotated) }
            try await Task.sleep(for: .seconds(4))
            let responses = await load.stop()

            let size = { (path: String) in (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1 }
            #expect((0...logCap).contains(size(log)), "flood.log holds \(size(log)) bytes")
            #expect(size(rotated) <= logCap)
            #expect(size(rotated) > logCap / 2)
            var folderBytes = 0
            for name in try FileManager.default.contentsOfDirectory(atPath: logs.path) {
                folderBytes += max(size(logs.appendingPathComponent(name).path), 0)
            }
            // flood's two files plus the small logs of the other APIs.
            #expect(folderBytes < 2 * logCap + 256 << 10, "logs folder holds \(folderBytes) bytes")
            let tail = try await ternInBackground(server, "logs", "flood", "--tail", "3")
            #expect(tail.status == 0)
            #expect(tail.stdout.contains("flood xxxx"), "\(tail.stdout.prefix(300))")
            #expect(responses.count > 20, "too little load: \(responses.count) requests")
            #expect(failures(in: responses).isEmpty, "\(failures(in: responses).prefix(5))")
            let api = try await apiInBackground(server, "flood")
            #expect(api.status == .live)
        }
    }
}
