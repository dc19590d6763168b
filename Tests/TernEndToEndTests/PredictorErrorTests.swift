import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// A predictor whose `predict` raises (fixture `boom`).
    @Suite(.serialized, .sharedServer())
    struct PredictorErrors {
        private func deployedBoom() async throws -> TestServer {
            let server = try Shared.require()
            try deployFixture("boom", on: server)
            try await server.waitUntilLive("boom")
            return server
        }

        @Test("predict raising ValueError answers 500 predictor_error naming the exception and the API")
        func raisingPredictAnswers500() async throws {
            let server = try await deployedBoom()
            let response = try await server.request("/boom", body: Data(#"{"mode":"raise"}"#.utf8))
            #expect(response.status == 500)
            #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
            let error = try errorObject(response.body)
            #expect(error["kind"] as? String == "predictor_error")
            #expect((error["message"] as? String)?.contains("ValueError: boom") == true)
            #expect(error["api"] as? String == "boom")
        }

        @Test("the request after a raising one succeeds with 200 from the same replica")
        func nextRequestSucceeds() async throws {
            let server = try await deployedBoom()
            let before = try server.api("boom").replicas.first?.pid
            let failed = try await server.request("/boom", body: Data(#"{"mode":"raise"}"#.utf8))
            #expect(failed.status == 500)
            let ok = try await server.request("/boom", body: Data(#"{"mode":"ok"}"#.utf8))
            #expect(ok.status == 200)
            #expect(try jsonObject(ok.body)["ok"] as? Bool == true)
            let after = try server.api("boom")
            #expect(after.replicas.first?.pid == before)
            #expect(after.replicas.first?.restarts == 0)
        }

        @Test("SystemExit raised by predict is a predictor_error too, and the replica keeps serving")
        func systemExitIsAPredictorError() async throws {
            let server = try await deployedBoom()
            let response = try await server.request("/boom", body: Data(#"{"mode":"exit"}"#.utf8))
            #expect(response.status == 500)
            let error = try errorObject(response.body)
            #expect(error["kind"] as? String == "predictor_error")
            #expect((error["message"] as? String)?.hasPrefix("SystemExit") == true)
            let ok = try await server.request("/boom", body: Data(#"{"mode":"ok"}"#.utf8))
            #expect(ok.status == 200)
        }

        @Test("tern logs shows the traceback of the failed request, tagged with its request id")
        func logsShowTheTraceback() async throws {
            let server = try await deployedBoom()
            let response = try await server.request("/boom", body: Data(#"{"mode":"raise"}"#.utf8))
            #expect(response.status == 500)
            let requestID = try #require(response.headers["x-request-id"])
            // The replica's output reaches the log file asynchronously.
            var logs = ""
            try await server.waitUntil(timeout: 30, "the traceback in tern logs") {
                logs = try server.tern("logs", "boom").stdout
                return logs.contains("[\(requestID)] ValueError: boom")
            }
            #expect(logs.contains("[\(requestID)] Traceback (most recent call last):"))
            #expect(logs.contains(#"raise ValueError("boom")"#))
        }

        @Test("a client's X-Request-ID is kept: it is in the answer and tern logs -o json finds the traceback by it")
        func clientRequestIDIsKeptAndFoundInLogs() async throws {
            let server = try await deployedBoom()
            let id = "client-\(UInt32.random(in: 0...UInt32.max))"
            let response = try await server.request(
                "/boom", body: Data(#"{"mode":"raise"}"#.utf8), headers: [("X-Request-ID", id)])
            #expect(response.status == 500)
            #expect(response.headers["x-request-id"] == id)
            // An id Tern does not keep (a space, a comma) is replaced by the gateway's own.
            let odd = try await server.request("/boom", body: Data(#"{"mode":"ok"}"#.utf8), headers: [("X-Request-ID", "a b,c")])
            #expect(odd.status == 200)
            let replaced = try #require(odd.headers["x-request-id"])
            #expect(replaced != "a b,c" && !replaced.isEmpty)
            var records: [[String: Any]] = []
            try await server.waitUntil(timeout: 30, "the traceback in tern logs -o json") {
                let output = try server.tern("logs", "boom", "-o", "json", "--level", "error", "--since", "10m").stdout
                records = try output.split(separator: "\n").map { try jsonObject(String($0)) }
                return records.contains { ($0["text"] as? String)?.hasSuffix("ValueError: boom") == true && $0["request_id"] as? String == id }
            }
            // Every record is at level error or above, and has the fields of the documented shape.
            #expect(records.allSatisfy { ["error", "critical"].contains($0["level"] as? String ?? "") })
            #expect(records.allSatisfy { $0["api"] as? String == "boom" && $0["time"] is String && $0["source"] is String })
            let tagged = records.filter { $0["request_id"] as? String == id }
            #expect(tagged.contains { ($0["text"] as? String) == "[\(id)] Traceback (most recent call last):" })
            // --since in the future keeps nothing.
            let none = try server.tern("logs", "boom", "--since", "2999-01-01T00:00:00Z").stdout
            #expect(none == "")
        }
    }
}
