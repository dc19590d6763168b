import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// AsyncAPI on the real server, runtime and SQLite queue (fixture `async-echo`, which echoes
    /// JSON with the request id and a per-worker sequence number).
    @Suite(.serialized)
    struct AsyncAPI {
        static let yaml = """
            - name: ocr
              kind: AsyncAPI
              predictor:
                type: python
                path: predictor.py
                config: {label: async}
              autoscaling: {min_replicas: 0, max_replicas: 1, window: 1s, downscale_stabilization_period: 2s}

            """

        private func deploy(on server: TestServer) throws {
            let config = try makeProject(yaml: Self.yaml, predictorOf: "async-echo", in: server)
            let deploy = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\n\(deploy.stderr)")
        }

        private func submit(_ body: String, contentType: String = "application/json", on server: TestServer) async throws -> String {
            let answer = try await server.request("/ocr", body: Data(body.utf8), contentType: contentType)
            #expect(answer.status == 200, "\(answer.body)")
            return try #require(try jsonObject(answer.body)["id"] as? String)
        }

        /// Polls `GET /ocr/<id>` until the request is completed or failed.
        private func result(_ id: String, on server: TestServer, timeout: TimeInterval = 60) async throws -> [String: Any] {
            var document: [String: Any] = [:]
            try await server.waitUntil(timeout: timeout, "request \(id) to finish") {
                let answer = try await server.request("/ocr/\(id)", method: "GET", body: nil)
                document = try jsonObject(answer.body)
                return ["completed", "failed"].contains(document["status"] as? String ?? "")
            }
            return document
        }

        @Test("an AsyncAPI answers {id} at once, wakes a worker from zero, processes requests in order and keeps results with their content type; a raising predict fails only its request")
        func requestsAndResults() async throws {
            let server = try TestServer()
            try await server.start(extraArguments: ["--autoscaler-tick-seconds", "1"])
            defer { try? FileManager.default.removeItem(at: server.home) }
            try deploy(on: server)
            #expect(try server.api("ocr").requestedReplicas == 0, "min_replicas 0: no worker before a request")

            let first = try await submit(#"{"n": 1, "sleep": 0.3}"#, on: server)
            let queued = try jsonObject(try await server.request("/ocr/\(first)", method: "GET", body: nil).body)
            #expect(["in_queue", "in_progress"].contains(queued["status"] as? String ?? ""), "\(queued)")
            let second = try await submit(#"{"n": 2}"#, on: server)
            let text = try await submit("hello", contentType: "text/plain", on: server)
            let failing = try await submit(#"{"fail": true}"#, on: server)

            let one = try await result(first, on: server)
            #expect(one["status"] as? String == "completed", "\(one)")
            #expect(one["content_type"] as? String == "application/json")
            let echoed = try #require(one["result"] as? [String: Any])
            #expect(echoed["request_id"] as? String == first)
            #expect(echoed["label"] as? String == "async")
            #expect((echoed["echo"] as? [String: Any])?["n"] as? Int == 1)
            let two = try #require(try await result(second, on: server)["result"] as? [String: Any])
            #expect((two["sequence"] as? Int ?? 0) == (echoed["sequence"] as? Int ?? 0) + 1, "one worker takes requests in order")
            let upper = try await result(text, on: server)
            #expect(upper["result"] as? String == "HELLO")
            #expect((upper["content_type"] as? String)?.hasPrefix("text/plain") == true, "\(upper)")
            let failed = try await result(failing, on: server)
            #expect(failed["status"] as? String == "failed")
            #expect(failed["error"] as? String == "ValueError: asked to fail", "\(failed)")

            let unknown = try await server.request("/ocr/ffffffffffffffff", method: "GET", body: nil)
            #expect(unknown.status == 404)
            #expect((try errorObject(unknown.body)["message"] as? String)?.hasPrefix("API ocr has no request ffffffffffffffff") == true)
            let put = try await server.request("/ocr", method: "PUT", body: nil)
            #expect(put.status == 405)
            let logs = try server.tern("logs", "ocr")
            #expect(logs.stdout.contains("ValueError: asked to fail"), "the traceback is in the log: \(logs.stdout)")

            // Idle: the worker goes (min_replicas 0).
            try await server.waitUntil(timeout: 30, "ocr to scale its workers to zero") {
                try server.api("ocr").requestedReplicas == 0
            }
            #expect(try await server.stop() == 0)
        }

        @Test("an AsyncAPI whose predictor fails to load shows `error (init failed)` with the exception, and tern deploy says so")
        func initFailure() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let yaml = Self.yaml.replacingOccurrences(of: "min_replicas: 0", with: "min_replicas: 1")
            let config = try makeProject(yaml: yaml, predictorOf: "bad-init", in: server)
            let deploy = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deploy.status != 0)
            let api = try server.api("ocr")
            #expect(api.status == .errorInitFailed, "\(api.status.rawValue) \(api.message ?? "")")
            #expect(api.message?.contains("RuntimeError") == true, "\(api.message ?? "")")
            #expect(try await server.stop() == 0)
        }

        @Test("SIGKILL tern serve while an AsyncAPI request is in progress and others are queued: after a restart every request completes")
        func durableAcrossServerKill() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try deploy(on: server)
            var ids: [String] = []
            for n in 0..<4 { ids.append(try await submit(#"{"n": \#(n), "sleep": 0.5}"#, on: server)) }
            try await server.waitUntil(timeout: 60, "the first request to be in progress") {
                let answer = try await server.request("/ocr/\(ids[0])", method: "GET", body: nil)
                return try jsonObject(answer.body)["status"] as? String == "in_progress"
            }
            let pid = try #require(server.process?.processIdentifier)
            kill(pid, SIGKILL)
            #expect(try await server.waitForExit() == 9)
            try await server.start()
            for (n, id) in ids.enumerated() {
                let document = try await result(id, on: server)
                #expect(document["status"] as? String == "completed", "\(document)")
                #expect(((document["result"] as? [String: Any])?["echo"] as? [String: Any])?["n"] as? Int == n)
            }
            #expect(try await server.stop() == 0)
        }
    }
}
