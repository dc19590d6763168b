import Foundation
import Testing
import TernTesting

extension EndToEnd {
    /// `tern serve --idle-timeout-seconds` (here 1 s): a client that stops sending — idle between
    /// requests, or in the middle of a request's head or body — loses its connection after the
    /// timeout, whichever gateway path its request took; a client waiting for a slow answer
    /// keeps it. Raw TCP on loopback, to send partial requests.
    @Suite(.serialized, .sharedServer("--idle-timeout-seconds", "1"))
    struct IdleTimeout {
        private static let deployed = PerServer<Bool>()

        private func deployed() async throws -> TestServer {
            let server = try Shared.require()
            _ = try await Self.deployed.value(for: server) {
                try deployFixture("echo", on: server)
                try deployFixture("slow", on: server)
                try await server.waitUntilLive("echo")
                try await server.waitUntilLive("slow")
                return true
            }
            return server
        }

        private static let head = "POST %@ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"

        /// Seconds until the server closes `connection`, with what it sent meanwhile.
        private func timeUntilClosed(_ connection: RawHTTPConnection) throws -> (seconds: Double, received: String) {
            let started = ContinuousClock.now
            let received = try connection.readUntilClosed(timeout: 10)
            return (seconds(from: started, to: .now), received)
        }

        @Test("a keep-alive connection idle for the timeout after its answer is closed")
        func idleConnectionIsClosed() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            let body = #"{"n":1}"#
            try connection.send(String(format: Self.head, "/echo") + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let answer = try connection.readResponse()
            #expect(answer.status == 200)
            #expect(answer.body == body)
            let closed = try timeUntilClosed(connection)
            #expect(closed.received == "")
            #expect(closed.seconds >= 0.8 && closed.seconds < 5, "closed after \(closed.seconds) s")
        }

        @Test("a request that stops arriving (head, Content-Length body, chunked body) loses its connection after the timeout", arguments: [
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Le",
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"n\":",
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"n\":",
        ])
        func stalledRequestIsCut(partial: String) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(partial)
            let closed = try timeUntilClosed(connection)
            #expect(!closed.received.contains(" 200 "), "answered: \(closed.received)")
            #expect(closed.seconds >= 0.8 && closed.seconds < 5, "closed after \(closed.seconds) s")
            // The API is unharmed: the next client is answered.
            let next = try RawHTTPConnection(port: server.port)
            defer { next.close() }
            try next.send(String(format: Self.head, "/echo") + "Content-Length: 2\r\n\r\n{}")
            #expect(try next.readResponse().status == 200)
        }

        /// A complete request for a 2 s prediction, with a Content-Length or a chunked body.
        private static func slowRequest(chunked: Bool) -> String {
            let body = #"{"seconds":2}"#
            return String(format: head, "/slow") + (chunked
                ? "Transfer-Encoding: chunked\r\n\r\n\(String(body.utf8.count, radix: 16))\r\n\(body)\r\n0\r\n\r\n"
                : "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }

        @Test("a prediction longer than the timeout is answered on both paths, and the silence counts from the answer", arguments: [false, true])
        func slowAnswerIsNotCut(chunked: Bool) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.slowRequest(chunked: chunked))
            let answer = try connection.readResponse()
            #expect(answer.status == 200)
            #expect(try jsonObject(answer.body)["slept"] as? Int == 2)
            // 0.5 s after the answer (2.5 s after the request's last byte) the connection still serves.
            try await Task.sleep(for: .milliseconds(500))
            try connection.send(String(format: Self.head, "/echo") + "Content-Length: 2\r\n\r\n{}")
            #expect(try connection.readResponse().status == 200)
        }

        @Test("a partial request pipelined behind a complete slow one does not cost the slow one its answer", arguments: [false, true])
        func partialBehindAWaitingRequest(chunked: Bool) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.slowRequest(chunked: chunked) + String(format: Self.head, "/echo") + "Content-Length: 50\r\n\r\n{")
            let answer = try connection.readResponse()
            #expect(answer.status == 200)
            #expect(try jsonObject(answer.body)["slept"] as? Int == 2)
        }

        @Test("a request head that trickles in without a gap as long as the timeout is served")
        func steadilyTricklingHeadIsServed() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            let request = String(format: Self.head, "/echo") + "Content-Length: 2\r\n\r\n{}"
            var rest = Substring(request)
            while !rest.isEmpty {  // about 3 s in all, 0.3 s between pieces
                try connection.send(String(rest.prefix(8)))
                rest = rest.dropFirst(8)
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(try connection.readResponse().status == 200)
        }

        @Test("a large answer read slowly arrives whole (the client keeps taking bytes)")
        func slowReaderGetsTheWholeAnswer() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            let text = String(repeating: "x", count: 6 << 20)
            let body = #"{"big":""# + text + #""}"#
            try connection.send(String(format: Self.head, "/echo") + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            connection.slowRead = (bytes: 64 << 10, pauseMicroseconds: 25_000)  // about 2.5 MB/s: over 2 s
            let answer = try connection.readResponse()
            #expect(answer.status == 200)
            #expect(answer.body.utf8.count == body.utf8.count)
        }
    }
}
