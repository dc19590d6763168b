import Foundation
import Testing
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Hostile HTTP input against a real `tern serve` (issue 18, part 3), one test per kind: raw
    /// bytes over TCP on loopback, each test asserting the exact answer and how the connection
    /// ends, and that a normal prediction on another connection still answers 200 with the right
    /// body while (or right after) the abuse runs. The server runs with short limits so the suite
    /// stays fast: a 1 s header deadline, a 2 s idle timeout, a 1 MiB body limit and at most 300
    /// client connections. bench/hostile_http.sh runs the same inputs at full size (10,000 idle
    /// connections, 300 slowloris clients) against the default limits.
    @Suite(
        .serialized,
        .sharedServer(
            "--header-timeout-seconds", "1", "--idle-timeout-seconds", "2", "--max-body-bytes", "1048576",
            "--max-connections", "300"),
        .timeLimit(.minutes(2)))
    struct HostileHTTP {
        /// `--max-connections` above.
        static let connectionLimit = 300
        private static let deployed = PerServer<Bool>()

        private func deployed() async throws -> TestServer {
            let server = try Shared.require()
            _ = try await Self.deployed.value(for: server) {
                try deployFixture("echo", on: server)
                try await server.waitUntilLive("echo")
                return true
            }
            return server
        }

        private static let body = #"{"n":1}"#
        /// A complete `POST /echo` with `fields` (each `Name: value\r\n`) before the body.
        private static func predict(fields: String = "", close: Bool = false) -> String {
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\(fields)"
                + (close ? "Connection: close\r\n" : "") + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }

        /// A normal prediction on a new connection answers 200 with the echoed body.
        private func expectOthersServed(_ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.predict())
            let answer = try connection.readResponse()
            #expect(answer.status == 200, "another client got \(answer.status) \(answer.body)", sourceLocation: sourceLocation)
            #expect(answer.body == Self.body, sourceLocation: sourceLocation)
        }

        /// Reads the refusal on `connection` and checks its status, kind and `Connection: close`,
        /// then that the server ends the connection within `closeWithin` seconds; returns the message.
        @discardableResult
        private func expectRefusal(
            _ connection: RawHTTPConnection, status: Int, kind: String, closeWithin: Double = 4,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> String {
            let answer = try connection.readResponse()
            #expect(answer.status == status, "answered \(answer.status) \(answer.body)", sourceLocation: sourceLocation)
            #expect(answer.headers["connection"] == "close", sourceLocation: sourceLocation)
            #expect(answer.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
            let error = try errorObject(answer.body, sourceLocation: sourceLocation)
            #expect(error["kind"] as? String == kind, sourceLocation: sourceLocation)
            let started = ContinuousClock.now
            let rest = try connection.readUntilClosed(timeout: Int(closeWithin.rounded(.up)) + 1)
            #expect(rest.isEmpty, "more after the refusal: \(rest.prefix(200))", sourceLocation: sourceLocation)
            #expect(seconds(from: started, to: .now) < closeWithin, sourceLocation: sourceLocation)
            return error["message"] as? String ?? ""
        }

        @Test("one 200 KB header field: 431 headers_too_large, the connection closed (no reset)")
        func oversizedHeader() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.predict(fields: "X-Big: " + String(repeating: "a", count: 200_000) + "\r\n"))
            let message = try expectRefusal(connection, status: 431, kind: "headers_too_large")
            #expect(message.contains("81920 bytes") && message.contains("100 header fields"), "\(message)")
            try expectOthersServed(server)
        }

        @Test("60 header fields of 2 KB (120 KB in all, each under the limit): 431")
        func oversizedTotal() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            let fields = (0..<60).map { "X-H\($0): " + String(repeating: "a", count: 2000) + "\r\n" }.joined()
            try connection.send(Self.predict(fields: fields))
            try expectRefusal(connection, status: 431, kind: "headers_too_large")
            try expectOthersServed(server)
        }

        @Test("too many header fields: 100 in all are served, 101 and 10,000 get 431")
        func tooManyHeaders() async throws {
            let server = try await deployed()
            // predict() carries Host, Content-Type and Content-Length: 97 more make 100.
            for (extra, refused) in [(97, false), (98, true), (10_000, true)] {
                let connection = try RawHTTPConnection(port: server.port)
                defer { connection.close() }
                try connection.send(Self.predict(fields: (0..<extra).map { "X-\($0): v\r\n" }.joined()))
                if refused {
                    try expectRefusal(connection, status: 431, kind: "headers_too_large")
                } else {
                    let answer = try connection.readResponse()
                    #expect(answer.status == 200, "\(extra + 3) fields: \(answer.status) \(answer.body)")
                    #expect(answer.body == Self.body)
                }
            }
            try expectOthersServed(server)
        }

        @Test("an unknown method, a garbage line and binary garbage: 400 bad_request and closed", arguments: [
            Array("FOO /echo HTTP/1.1\r\nHost: t\r\n\r\n".utf8),
            Array("hello there\r\n\r\n".utf8),
            [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03] + (0..<64).map { UInt8($0 * 7 & 0xff) },
        ])
        func garbageRequestLine(bytes: [UInt8]) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(bytes: bytes)
            try expectRefusal(connection, status: 400, kind: "bad_request")
            try expectOthersServed(server)
        }

        @Test("HTTP/2 with prior knowledge: 505 http_version_not_supported and closed at once")
        func http2PriorKnowledge() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            // The connection preface, then an empty SETTINGS frame (RFC 9113 §3.4).
            try connection.send(bytes: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0])
            let message = try expectRefusal(connection, status: 505, kind: "http_version_not_supported", closeWithin: 3)
            #expect(message.contains("HTTP/1.1"))
            try expectOthersServed(server)
        }

        @Test("`..`, `%2e%2e`, `%00` and a NUL byte in paths: 404 not_found or 400, never a file", arguments: [
            ("/../../etc/passwd", 404, "not_found"),
            ("/%2e%2e/%2e%2e/etc/passwd", 404, "not_found"),
            ("/echo%00", 404, "not_found"),
            ("/echo/../echo", 404, "not_found"),
            ("/ec\u{0}ho", 400, "bad_request"),
        ])
        func traversalPaths(path: String, status: Int, kind: String) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.predict(close: true).replacingOccurrences(of: "POST /echo ", with: "POST \(path) "))
            let answer = try connection.readResponse()
            #expect(answer.status == status, "\(path): \(answer.status) \(answer.body)")
            let error = try errorObject(answer.body)
            #expect(error["kind"] as? String == kind)
            if status == 404 {
                #expect(error["message"] as? String == "no API is deployed at \(path); run `tern get` to list APIs and their endpoints")
            }
            #expect(!answer.body.contains("root:"))
            try expectOthersServed(server)
        }

        @Test("the control plane: `..` and `%2e%2e` as an API name are 404 for an API not deployed; a 200 KB header is refused")
        func controlPlanePaths() async throws {
            let server = try await deployed()
            let token = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            for (path, name) in [("/v1/apis/../logs", ".."), ("/v1/apis/%2e%2e/logs", "%2e%2e"), ("/v1/apis/..%2f..%2fetc%2fpasswd", "..%2f..%2fetc%2fpasswd")] {
                let connection = try RawHTTPConnection(port: server.controlPort)
                defer { connection.close() }
                try connection.send("GET \(path) HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
                let answer = try connection.readResponse()
                #expect(answer.status == 404, "\(path): \(answer.status) \(answer.body)")
                let error = try errorObject(answer.body)
                #expect(error["kind"] as? String == "not_found")
                #expect(error["api"] as? String == name)
            }
            let connection = try RawHTTPConnection(port: server.controlPort)
            defer { connection.close() }
            try connection.send("GET /v1/info HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 200_000))\r\n\r\n")
            let answer = try connection.readResponse()
            // The gateway's answer to a decoder error (ConnectionRefusal), in the JSON shape, then closed.
            #expect(answer.status == 431)
            let refused = try errorObject(answer.body)
            #expect(refused["kind"] as? String == "headers_too_large")
            #expect((refused["message"] as? String)?.hasPrefix("the request head is over the control plane's limits: 81920 bytes") == true)
            #expect(try connection.readUntilClosed(timeout: 5) == "")
            let garbage = try RawHTTPConnection(port: server.controlPort)
            defer { garbage.close() }
            try garbage.send("FOO /v1/info HTTP/1.1\r\nHost: t\r\n\r\n")
            let bad = try garbage.readResponse()
            #expect(bad.status == 400)
            #expect(try errorObject(bad.body)["kind"] as? String == "bad_request")
            try expectOthersServed(server)
        }

        @Test("a chunked body without end: cut by the idle timeout when it stops, 413 when it keeps coming")
        func chunkedWithoutEnd() async throws {
            let server = try await deployed()
            let head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            let chunk = "400\r\n" + String(repeating: "a", count: 1024) + "\r\n"
            // 100 KiB, then silence: closed about 2 s (the idle timeout) after the last chunk, unanswered.
            let stalled = try RawHTTPConnection(port: server.port)
            defer { stalled.close() }
            try stalled.send(head + String(repeating: chunk, count: 100))
            try expectOthersServed(server)  // during the stall
            let started = ContinuousClock.now
            let received = try stalled.readUntilClosed(timeout: 10)
            #expect(received == "")
            let waited = seconds(from: started, to: .now)
            #expect(waited > 1 && waited < 5, "closed after \(waited) s")
            // Chunks that keep coming: refused once past --max-body-bytes (1 MiB).
            let endless = try RawHTTPConnection(port: server.port)
            defer { endless.close() }
            try endless.send(head)
            var sent = 0
            while sent < 8 << 20, !endless.readable(within: 0) {
                guard (try? endless.send(String(repeating: chunk, count: 64))) != nil else { break }
                sent += 64 << 10
            }
            let answer = try endless.readResponse()
            #expect(answer.status == 413)
            #expect(try errorObject(answer.body)["kind"] as? String == "payload_too_large")
            // Refused well before 8 MiB (the rest of what was sent sat in the sockets' buffers).
            #expect(sent < 8 << 20, "sent \(sent) bytes before the answer")
            try expectOthersServed(server)
        }

        @Test("slowloris: 20 heads trickled a byte every 0.2 s get 408 header_timeout after the 1 s deadline; others are served meanwhile")
        func slowloris() async throws {
            let server = try await deployed()
            let head = Array("POST /echo HTTP/1.1\r\nHost: t\r\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 1000)
            let connections = try (0..<20).map { _ in try RawHTTPConnection(port: server.port) }
            defer { for connection in connections { connection.close() } }
            let started = ContinuousClock.now
            var answeredAt: [Int: Double] = [:]
            var othersChecked = false
            for index in head.indices where answeredAt.count < connections.count {
                for (number, connection) in connections.enumerated() where answeredAt[number] == nil {
                    if connection.readable(within: 0) {
                        answeredAt[number] = seconds(from: started, to: .now)
                        try expectRefusal(connection, status: 408, kind: "header_timeout")
                    } else {
                        _ = try? connection.send(bytes: [head[index]])
                    }
                }
                if !othersChecked, seconds(from: started, to: .now) > 0.5 {
                    try expectOthersServed(server)  // while every slow head is still open
                    othersChecked = true
                }
                try await Task.sleep(for: .milliseconds(200))
                if seconds(from: started, to: .now) > 10 { break }
            }
            #expect(othersChecked)
            #expect(answeredAt.count == connections.count, "answered: \(answeredAt.count) of \(connections.count)")
            let times = answeredAt.values.sorted()
            #expect((times.first ?? 0) >= 0.8 && (times.last ?? 99) < 4, "answered after \(times) s")
            try expectOthersServed(server)
        }

        @Test("many idle connections: others are served while 250 are open; the idle timeout closes them")
        func manyIdleConnections() async throws {
            let server = try await deployed()
            let idle = try (0..<250).map { _ in try RawHTTPConnection(port: server.port) }
            defer { for connection in idle { connection.close() } }
            try await Task.sleep(for: .milliseconds(300))
            try expectOthersServed(server)
            #expect(idle.allSatisfy { !$0.readable(within: 0) }, "an idle connection was answered or closed early")
            // All are closed (nothing sent) by the 2 s idle timeout.
            for connection in idle {
                #expect(try connection.readUntilClosed(timeout: 6) == "")
            }
            try expectOthersServed(server)
        }

        @Test("under TLS the refusal is sent inside the TLS session: a 100 KB header over HTTPS gets 431 headers_too_large")
        func refusalOverTLS() async throws {
            let server = try TestServer()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let files = try EndToEnd.TLS.selfSigned("server", in: server.home)
            try await server.start(extraArguments: ["--tls-certificate", files.certificate, "--tls-key", files.key])
            let result = try EndToEnd.TLS.curl(
                "--cacert", files.certificate, "-w", "\n%{http_code}", "-H", "X-Big: " + String(repeating: "a", count: 100_000),  // one argument must stay under 128 KiB
                "https://127.0.0.1:\(server.port)/echo")
            try await server.stop()
            #expect(result.status == 0, "curl: \(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.last == "431", "\(result.stdout.prefix(300))")
            #expect(try errorObject(String(lines.first ?? ""))["kind"] as? String == "headers_too_large")
        }

        @Test("the connection limit: a connection over --max-connections gets 503 too_many_connections and is closed; open ones are served")
        func connectionLimit() async throws {
            let server = try await deployed()
            let kept = try RawHTTPConnection(port: server.port)
            defer { kept.close() }
            try kept.send(Self.predict())
            #expect(try kept.readResponse().status == 200)
            do {
                let fillers = try (0..<(Self.connectionLimit + 20)).map { _ in try RawHTTPConnection(port: server.port) }
                defer { for connection in fillers { connection.close() } }
                try await Task.sleep(for: .milliseconds(500))
                let refused = fillers.filter { $0.readable(within: 0) }
                // 20 over the limit, plus one per connection already open (`kept`, and at most a few
                // of an earlier test still closing).
                #expect(refused.count >= 21 && refused.count <= 30, "\(refused.count) refused")
                if let first = refused.first {
                    let message = try expectRefusal(first, status: 503, kind: "too_many_connections")
                    #expect(message.contains("\(Self.connectionLimit) open client connections"))
                }
                // An admitted connection is served at the limit.
                try kept.send(Self.predict())
                let answer = try kept.readResponse()
                #expect(answer.status == 200)
                #expect(answer.body == Self.body)
            }
            try await Task.sleep(for: .milliseconds(300))
            try expectOthersServed(server)
        }
    }
}
