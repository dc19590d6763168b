import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// `processes_per_replica × threads_per_process` slots per replica: requests really run side
    /// by side in one replica.
    @Suite(.serialized, .sharedServer())
    struct Parallelism {
        struct Shape: Sendable, CustomTestStringConvertible {
            var processes: Int
            var threads: Int
            var name: String { "par-p\(processes)-t\(threads)" }
            var testDescription: String { "\(processes) process(es) × \(threads) thread(s)" }
        }

        /// Deploys `slow` as one replica of the given shape and sends two 1 s requests at once;
        /// returns the wall time from the first send to the last answer.
        private func twoConcurrentSeconds(_ shape: Shape) async throws -> (Double, [LoadResponse]) {
            let server = try Shared.require()
            try await deployExpectingSuccess(
                SpecYAML.realtime(
                    name: shape.name,
                    predictor: ["processes_per_replica": "\(shape.processes)", "threads_per_process": "\(shape.threads)"],
                    minReplicas: 1, maxReplicas: 1),
                predictorOf: "slow", on: server)
            try await server.waitUntilLive(shape.name)
            let api = try server.api(shape.name)
            #expect(api.replicas.count == 1)
            // Warm up every connection, so that the measurement is only the predictions.
            _ = await LoadClient.burst(server.gatewayURL + "/" + shape.name, count: 2, body: sleepBody(0))
            let responses = await LoadClient.burst(server.gatewayURL + "/" + shape.name, count: 2, body: sleepBody(1))
            let start = responses.map(\.sentAt).min()!
            let end = responses.map(\.finishedAt).max()!
            return (seconds(from: start, to: end), responses)
        }

        @Test(
            "two concurrent 1 s requests to one replica with 2 slots finish in about the time of one (< 1.7 s)",
            arguments: [Shape(processes: 2, threads: 1), Shape(processes: 1, threads: 2)])
        func twoSlotsRunTwoRequestsAtOnce(_ shape: Shape) async throws {
            let (total, responses) = try await twoConcurrentSeconds(shape)
            #expect(responses.allSatisfy { $0.status == 200 }, "\(responses.map(\.summary))")
            print("[parallelism] \(shape.testDescription): two 1 s requests took \(String(format: "%.2f", total)) s")
            #expect(total < 1.7, "two 1 s requests on \(shape.testDescription) took \(total) s")
            #expect(total >= 0.95)
        }

        @Test("with one process and one thread, two concurrent 1 s requests take at least 1.9 s (one waits in the gateway)")
        func oneSlotRunsThemOneAfterTheOther() async throws {
            let (total, responses) = try await twoConcurrentSeconds(Shape(processes: 1, threads: 1))
            #expect(responses.allSatisfy { $0.status == 200 }, "\(responses.map(\.summary))")
            print("[parallelism] 1 process × 1 thread: two 1 s requests took \(String(format: "%.2f", total)) s")
            #expect(total >= 1.9, "two 1 s requests on one slot took only \(total) s")
            #expect(total < 3.5)
        }
    }
}
