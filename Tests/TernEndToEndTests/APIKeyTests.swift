import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// Per-API keys (`networking.auth: api_key`) on a real server with real replicas (fixture
    /// `echo`'s predictor), and the control-plane token.
    @Suite(.serialized, .sharedServer())
    struct APIKeys {
        /// The `echo` predictor as API `keyed`, which needs a key.
        private func deployKeyed(_ server: TestServer) async throws {
            let config = try makeProject(
                yaml: """
                    - name: keyed
                      kind: RealtimeAPI
                      predictor: {type: python, path: predictor.py}
                      networking: {auth: api_key}
                    """, predictorOf: "echo", in: server)
            let deployed = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deployed.status == 0, "\(deployed.stdout)\n\(deployed.stderr)")
            try await server.waitUntilLive("keyed")
        }

        private func createKey(_ server: TestServer, api: String = "keyed") throws -> String {
            let created = try server.tern("keys", "create", api)
            #expect(created.status == 0, "\(created.stderr)")
            return created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        private func expectUnauthorized(
            _ response: (status: Int, headers: [String: String], body: String), sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            #expect(response.status == 401, "\(response.body)", sourceLocation: sourceLocation)
            #expect(response.headers["www-authenticate"] == "Bearer", sourceLocation: sourceLocation)
            let error = try errorObject(response.body, sourceLocation: sourceLocation)
            #expect(error["kind"] as? String == "unauthorized", sourceLocation: sourceLocation)
            #expect(error["api"] as? String == "keyed", sourceLocation: sourceLocation)
            #expect((error["message"] as? String)?.contains("tern keys create keyed") == true, sourceLocation: sourceLocation)
        }

        @Test("no key, a wrong key and a revoked key get 401; Bearer and X-API-Key get the prediction")
        func keysOpenTheAPI() async throws {
            let server = try Shared.require()
            try await deployKeyed(server)
            let payload = Data(#"{"x": 1}"#.utf8)
            // Fast-path sized bodies and one over the fast path's 64 KiB (the normal path).
            let large = try json(["x": String(repeating: "a", count: 100_000)])

            try expectUnauthorized(try await server.request("/keyed", body: payload))
            try expectUnauthorized(try await server.request("/keyed", body: large))
            try expectUnauthorized(try await server.request("/keyed", method: "GET", body: nil))
            try expectUnauthorized(
                try await server.request("/keyed", body: payload, headers: [("Authorization", "Bearer tern_wrong")]))
            try expectUnauthorized(try await server.request("/keyed", body: payload, headers: [("X-API-Key", "tern_wrong")]))

            let key = try createKey(server)
            #expect(key.hasPrefix("tern_") && key.count == 69, "\(key)")
            let bearer = try await server.request("/keyed", body: payload, headers: [("Authorization", "Bearer \(key)")])
            #expect(bearer.status == 200, "\(bearer.body)")
            #expect(try jsonObject(bearer.body)["x"] as? Int == 1)
            let header = try await server.request("/keyed", body: payload, headers: [("X-API-Key", key)])
            #expect(header.status == 200, "\(header.body)")
            #expect(try jsonObject(header.body)["x"] as? Int == 1)
            let big = try await server.request("/keyed", body: large, headers: [("X-API-Key", key)])
            #expect(big.status == 200, "\(big.body)")
            #expect((try jsonObject(big.body)["x"] as? String)?.count == 100_000)
            let described = try await server.request("/keyed", method: "GET", body: nil, headers: [("X-API-Key", key)])
            #expect(described.status == 200, "\(described.body)")
            // Open Inference routes lead to the same API: the same rule.
            let metadata = try await server.request("/v2/models/keyed/ready", method: "GET", body: nil)
            #expect(metadata.status == 401, "\(metadata.body)")

            // Listed without the key; the store holds only its hash.
            let listed = try server.tern("keys", "list", "keyed", "-o", "json")
            #expect(listed.status == 0, "\(listed.stderr)")
            let all = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            // Other tests of the suite may have left keys of `keyed`: this test's is the one with its prefix.
            let documents = all.filter { $0["prefix"] as? String == String(key.prefix(9)) }
            #expect(documents.count == 1)
            let id = try #require(documents.first?["id"] as? String)
            #expect(documents.first?["api"] as? String == "keyed")
            #expect(documents.first?["created"] is String)
            #expect(documents.first?["rate_limit"] == nil, "a key without a limit has no rate_limit")
            let table = try server.tern("keys", "list")
            #expect(table.stdout.contains(id))
            for output in [listed.stdout, listed.stderr, table.stdout, table.stderr] {
                #expect(!output.contains(key))
                #expect(!output.contains(key.dropFirst(9)))
            }
            var stored = Data()
            for file in ["tern.db", "tern.db-wal"] {
                stored.append((try? Data(contentsOf: server.home.appendingPathComponent(file))) ?? Data())
            }
            #expect(stored.count > 0)
            #expect(stored.range(of: Data(key.utf8)) == nil, "the key is in the SQLite files")
            #expect(stored.range(of: Data(TernCore.APIKeys.hash(key).utf8)) != nil, "its hash is")
            let serverLog = try String(contentsOf: server.home.appendingPathComponent("serve-output.log"), encoding: .utf8)
            #expect(serverLog.contains("API key created"), "the server log was not read")
            #expect(!serverLog.contains(key))

            // Revoked: refused from the next request on.
            let revoked = try server.tern("keys", "revoke", id)
            #expect(revoked.status == 0, "\(revoked.stderr)")
            try expectUnauthorized(try await server.request("/keyed", body: payload, headers: [("Authorization", "Bearer \(key)")]))
            try expectUnauthorized(try await server.request("/keyed", body: large, headers: [("X-API-Key", key)]))
            let again = try server.tern("keys", "revoke", id)
            #expect(again.status != 0)
            #expect(again.stderr.contains("no API key with id \(id)"), "\(again.stderr)")
        }

        @Test("an API without auth answers without a key, and another API's key is not one of its keys")
        func apiWithoutAuthIsUnaffected() async throws {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            let plain = try await server.request("/echo", body: Data(#"{"y": 2}"#.utf8))
            #expect(plain.status == 200, "\(plain.body)")
            #expect(try jsonObject(plain.body)["y"] as? Int == 2)
            try await deployKeyed(server)
            let echoKey = try createKey(server, api: "echo")
            try expectUnauthorized(try await server.request("/keyed", body: Data("{}".utf8), headers: [("X-API-Key", echoKey)]))
            let missing = try server.tern("keys", "create", "no-such-api")
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("API no-such-api is not deployed"), "\(missing.stderr)")
        }

        /// The ``RateLimit`` of a decoded JSON value (a document's `rate_limit`); nil when absent.
        private func rateLimit(_ value: Any?) throws -> RateLimit? {
            guard let value else { return nil }
            return try JSONDecoder().decode(RateLimit.self, from: JSONSerialization.data(withJSONObject: value))
        }

        private func expectRateLimited(
            _ response: (status: Int, headers: [String: String], body: String), retryAfter: ClosedRange<Int>,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            #expect(response.status == 429, "\(response.body)", sourceLocation: sourceLocation)
            let seconds = try #require(response.headers["retry-after"].flatMap(Int.init), "\(response.headers)", sourceLocation: sourceLocation)
            #expect(retryAfter.contains(seconds), "Retry-After \(seconds)", sourceLocation: sourceLocation)
            #expect(response.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
            let error = try errorObject(response.body, sourceLocation: sourceLocation)
            #expect(error["kind"] as? String == "rate_limited", sourceLocation: sourceLocation)
            #expect(error["api"] as? String == "keyed", sourceLocation: sourceLocation)
            #expect((error["message"] as? String)?.hasPrefix("this API key's rate limit of ") == true, "\(error)", sourceLocation: sourceLocation)
        }

        @Test("a key with --rate-limit 5/s --burst 5: 5 × 200 then 429 with Retry-After: 1, other keys unaffected, passing again after 1 s")
        func rateLimitedKeys() async throws {
            let server = try Shared.require()
            try await deployKeyed(server)
            let payload = Data(#"{"x": 1}"#.utf8)
            let large = try json(["x": String(repeating: "a", count: 100_000)])  // over the fast path's 64 KiB

            let created = try server.tern("keys", "create", "keyed", "--rate-limit", "5/s", "--burst", "5", "-o", "json")
            #expect(created.status == 0, "\(created.stderr)")
            let document = try jsonObject(created.stdout)
            let limited = try #require(document["key"] as? String)
            #expect(try rateLimit(document["rate_limit"]) == RateLimit(requests: 5, per: .second, burst: 5))
            let free = try createKey(server)

            // A rapid burst, all at once: exactly the burst passes (the bucket gains 1 token per
            // 200 ms, far longer than the requests take to arrive).
            let answers = try await withThrowingTaskGroup(of: (status: Int, headers: [String: String], body: String).self) { group in
                for _ in 0..<8 {
                    group.addTask { try await server.request("/keyed", body: payload, headers: [("X-API-Key", limited)]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { $0.status == 200 }.count == 5, "\(answers.map(\.status))")
            for refused in answers where refused.status != 200 { try expectRateLimited(refused, retryAfter: 1...1) }
            for passed in answers where passed.status == 200 { #expect(try jsonObject(passed.body)["x"] as? Int == 1) }
            // Another key of the same API, without a limit, is unaffected.
            for _ in 0..<10 {
                let other = try await server.request("/keyed", body: payload, headers: [("Authorization", "Bearer \(free)")])
                #expect(other.status == 200, "\(other.body)")
            }
            // After a second the bucket is full again.
            try await Task.sleep(for: .milliseconds(1200))
            for _ in 0..<3 {
                let again = try await server.request("/keyed", body: payload, headers: [("X-API-Key", limited)])
                #expect(again.status == 200, "\(again.body)")
            }

            // The fast path (small body), the normal path (large body) and GET count alike: a key
            // of 1 per minute, whose bucket gains nothing noticeable during the test.
            let slow = try server.tern("keys", "create", "keyed", "--rate-limit", "1/m")
            #expect(slow.status == 0, "\(slow.stderr)")
            #expect(slow.stderr.contains("rate limit 1/m"), "\(slow.stderr)")
            let perMinute = slow.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let first = try await server.request("/keyed", body: large, headers: [("X-API-Key", perMinute)])
            #expect(first.status == 200, "\(first.body)")
            try expectRateLimited(try await server.request("/keyed", body: large, headers: [("X-API-Key", perMinute)]), retryAfter: 55...60)
            try expectRateLimited(try await server.request("/keyed", body: payload, headers: [("X-API-Key", perMinute)]), retryAfter: 55...60)
            try expectRateLimited(
                try await server.request("/keyed", method: "GET", body: nil, headers: [("X-API-Key", perMinute)]), retryAfter: 55...60)
            let v2 = try await server.request("/v2/models/keyed/ready", method: "GET", body: nil, headers: [("X-API-Key", perMinute)])
            #expect(v2.status == 429, "\(v2.body)")
            #expect(v2.headers["retry-after"] != nil)

            // Listed with their limits.
            let table = try server.tern("keys", "list", "keyed")
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("RATE LIMIT"), "\(table.stdout)")
            let rows = table.stdout.split(separator: "\n")
            #expect(rows.contains { $0.contains(String(limited.prefix(9))) && $0.hasSuffix("5/s") }, "\(table.stdout)")
            #expect(rows.contains { $0.contains(String(perMinute.prefix(9))) && $0.hasSuffix("1/m") }, "\(table.stdout)")
            #expect(rows.contains { $0.contains(String(free.prefix(9))) && $0.hasSuffix("-") }, "\(table.stdout)")
            let listed = try server.tern("keys", "list", "keyed", "-o", "json")
            let documents = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            let limits = try documents.map { ($0["prefix"] as? String ?? "", try rateLimit($0["rate_limit"])) }
            #expect(limits.first { $0.0 == String(limited.prefix(9)) }?.1 == RateLimit(requests: 5, per: .second, burst: 5))
            #expect(limits.first { $0.0 == String(perMinute.prefix(9)) }?.1 == RateLimit(requests: 1, per: .minute, burst: 1))
            #expect(limits.contains { $0.0 == String(free.prefix(9)) && $0.1 == nil })

            // Bad limits are refused by the CLI, saying what to write.
            let bad = try server.tern("keys", "create", "keyed", "--rate-limit", "5/day")
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("write e.g. 10/s, 600/m or 1000/h"), "\(bad.stderr)")
            let burstAlone = try server.tern("keys", "create", "keyed", "--burst", "5")
            #expect(burstAlone.status != 0)
            #expect(burstAlone.stderr.contains("--burst needs --rate-limit"), "\(burstAlone.stderr)")
            // And by the control plane, whatever the client.
            let token = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            for (body, message) in [
                (#"{"rate_limit": {"requests": 0, "per": "second", "burst": 1}}"#, "rate limit requests must be 1 to 1000000 per second; got 0"),
                (#"{"rate_limit": {"requests": 5, "per": "day", "burst": 1}}"#, "the key request is not JSON of the form"),
            ] {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.controlPort)/v1/apis/keyed/keys")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                #expect(response.status.code == 400, "\(text)")
                #expect(try errorObject(text)["kind"] as? String == "bad_request")
                #expect((try errorObject(text)["message"] as? String)?.hasPrefix(message) == true, "\(text)")
            }
        }

        @Test("tern delete deletes the API's keys: after a redeploy the old key gets 401")
        func keysAreDeletedWithTheirAPI() async throws {
            let server = try Shared.require()
            try await deployKeyed(server)
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            let key = try createKey(server)
            let echoKey = try createKey(server, api: "echo")
            let before = try await server.request("/keyed", body: Data(#"{"x": 1}"#.utf8), headers: [("X-API-Key", key)])
            #expect(before.status == 200, "\(before.body)")
            let deleted = try server.tern("delete", "keyed")
            #expect(deleted.status == 0, "\(deleted.stderr)")
            let listed = try server.tern("keys", "list", "-o", "json")
            let documents = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            #expect(!documents.contains { $0["api"] as? String == "keyed" }, "\(listed.stdout)")
            #expect(documents.contains { $0["prefix"] as? String == String(echoKey.prefix(9)) }, "another API's key stays")
            try await deployKeyed(server)
            try expectUnauthorized(try await server.request("/keyed", body: Data(#"{"x": 1}"#.utf8), headers: [("X-API-Key", key)]))
            try expectUnauthorized(try await server.request("/keyed", body: Data(#"{"x": 1}"#.utf8), headers: [("Authorization", "Bearer \(key)")]))
            let fresh = try createKey(server)
            let after = try await server.request("/keyed", body: Data(#"{"x": 1}"#.utf8), headers: [("X-API-Key", fresh)])
            #expect(after.status == 200, "\(after.body)")
        }

        @Test("keys survive a restart of tern serve")
        func keysSurviveARestart() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await deployKeyed(server)
            let key = try createKey(server)
            let limited = try server.tern("keys", "create", "keyed", "--rate-limit", "1/h")
            #expect(limited.status == 0, "\(limited.stderr)")
            let limitedKey = limited.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try await server.stop()
            try await server.start()
            try await server.waitUntilLive("keyed")
            let answer = try await server.request("/keyed", body: Data(#"{"z": 3}"#.utf8), headers: [("Authorization", "Bearer \(key)")])
            #expect(answer.status == 200, "\(answer.body)")
            try expectUnauthorized(try await server.request("/keyed", body: Data("{}".utf8)))
            // The limit was stored with the key (the bucket starts full in the new process).
            let first = try await server.request("/keyed", body: Data("{}".utf8), headers: [("X-API-Key", limitedKey)])
            #expect(first.status == 200, "\(first.body)")
            try expectRateLimited(
                try await server.request("/keyed", body: Data("{}".utf8), headers: [("X-API-Key", limitedKey)]), retryAfter: 3500...3600)
            _ = try await server.stop()
        }
    }

    /// The control-plane token on every route, and its rotation.
    @Suite(.serialized, .sharedServer())
    struct ControlPlaneToken {
        /// Every route of docs/openapi.yaml but `/healthz`, with a path that names nothing (the
        /// token is checked first, so none exists has to).
        static let routes: [(method: String, path: String)] = [
            ("GET", "/v1/info"), ("GET", "/v1/openapi.json"), ("POST", "/v1/deploy"), ("GET", "/v1/apis"), ("GET", "/v1/apis/x"),
            ("DELETE", "/v1/apis/x"), ("POST", "/v1/apis/x/refresh"), ("POST", "/v1/apis/x/jobs"),
            ("GET", "/v1/apis/x/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/apis/x/jobs/j"), ("DELETE", "/v1/apis/x/jobs/j"),
            ("GET", "/v1/apis/x/jobs/j/dead-letters"), ("POST", "/v1/apis/x/jobs/j/retry"), ("GET", "/v1/apis/x/logs"),
            ("POST", "/v1/apis/x/keys"), ("GET", "/v1/keys"), ("DELETE", "/v1/keys/k"), ("POST", "/v1/token/rotate"),
            ("GET", "/metrics"),
        ]

        private func call(
            _ server: TestServer, _ method: String, _ path: String, token: String?
        ) async throws -> (status: Int, body: String) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.controlPort)\(path)")
            request.method = HTTPMethod(rawValue: method)
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }

        private func token(of server: TestServer) throws -> String {
            try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        @Test("the walked routes are exactly docs/openapi.yaml's")
        func routesMatchTheOpenAPIDocument() throws {
            let root = TestEnvironment.fixture("echo").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
            var documented: Set<String> = []
            var path: String?
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                    path = String(line.dropFirst(2).dropLast())
                } else if let path, let method = ["get", "post", "delete", "put", "patch"].first(where: { line == "    \($0):" }) {
                    documented.insert(method.uppercased() + " " + path.replacingOccurrences(of: "{name}", with: "x")
                        .replacingOccurrences(of: "{id}", with: path.contains("/keys/") ? "k" : "j"))
                }
            }
            documented.remove("GET /healthz")
            #expect(documented == Set(Self.routes.map { "\($0.method) \($0.path)" }))
        }

        @Test("every route answers 401 without a token and with a wrong one; /healthz answers 200 without")
        func everyRouteNeedsTheToken() async throws {
            let server = try Shared.require()
            for route in Self.routes {
                for token in [nil, "wrong", try self.token(of: server) + "x"] {
                    let answer = try await call(server, route.method, route.path, token: token)
                    #expect(answer.status == 401, "\(route.method) \(route.path) with token \(token ?? "none"): \(answer.status)")
                    let error = try? errorObject(answer.body)
                    #expect(error?["kind"] as? String == "unauthorized", "\(route.method) \(route.path): \(answer.body)")
                }
            }
            let health = try await call(server, "GET", "/healthz", token: nil)
            #expect(health.status == 200)
            #expect(health.body == "ok\n")
            #expect(try await call(server, "GET", "/v1/apis", token: try token(of: server)).status == 200)
        }

        @Test("tern token rotate: a new 0600 token file, the old token refused, the CLI still working")
        func rotation() async throws {
            let server = try Shared.require()
            let old = try token(of: server)
            let rotated = try server.tern("token", "rotate")
            #expect(rotated.status == 0, "\(rotated.stdout)\n\(rotated.stderr)")
            #expect(rotated.stdout.contains(server.home.appendingPathComponent("token").path))
            let new = try token(of: server)
            #expect(new != old)
            #expect(new.count == 64)
            #expect(!rotated.stdout.contains(new) && !rotated.stderr.contains(new))
            let attributes = try FileManager.default.attributesOfItem(atPath: server.home.appendingPathComponent("token").path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(try await call(server, "GET", "/v1/info", token: old).status == 401)
            #expect(try await call(server, "GET", "/v1/info", token: new).status == 200)
            let get = try server.tern("get")
            #expect(get.status == 0, "\(get.stderr)")
            let serverLog = try String(contentsOf: server.home.appendingPathComponent("serve-output.log"), encoding: .utf8)
            #expect(!serverLog.isEmpty, "the server log was not read")
            #expect(!serverLog.contains(new) && !serverLog.contains(old))
        }
    }
}
