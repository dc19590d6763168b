import Foundation
import Testing
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// The gateway's synchronous path for plain predictions (`PredictFastPath`) against the
    /// Hummingbird path it shortcuts: same answers, HTTP/1.1 order kept when a client pipelines
    /// requests that take different paths, `Connection: close` honoured. Raw TCP on loopback,
    /// because HTTP client libraries neither pipeline nor show the framing.
    @Suite(.serialized, .sharedServer())
    struct FastPath {
        private func deployed() async throws -> TestServer {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            return server
        }

        /// A request with a `Content-Length` body (fast-path eligible).
        private static func sized(_ body: String, path: String = "/echo", extra: String = "") -> String {
            "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\(extra)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }

        /// The same with a chunked body (always the Hummingbird path).
        private static func chunked(_ body: String, path: String = "/echo") -> String {
            "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + (body.isEmpty ? "" : String(body.utf8.count, radix: 16) + "\r\n\(body)\r\n") + "0\r\n\r\n"
        }

        @Test("pipelined requests on one connection are answered in order, whichever path each takes")
        func pipelinedRequestsKeepTheirOrder() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            // fast, Hummingbird (GET), Hummingbird (chunked), fast, fast, unknown path, fast: in one write.
            try connection.send(
                Self.sized(#"{"n":1}"#) + "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n" + Self.chunked(#"{"n":3}"#)
                    + Self.sized(#"{"n":4}"#) + Self.sized(#"{"n":5}"#) + Self.sized("{}", path: "/nowhere")
                    + Self.sized(#"{"n":7}"#))
            var answers: [RawHTTPResponse] = []
            for _ in 0..<7 { answers.append(try connection.readResponse()) }
            #expect(answers.map(\.status) == [200, 200, 200, 200, 200, 404, 200])
            #expect(answers[0].body == #"{"n":1}"#)
            #expect(try jsonObject(answers[1].body)["api"] as? String == "echo")
            #expect(answers[2].body == #"{"n":3}"#)
            #expect(answers[3].body == #"{"n":4}"#)
            #expect(answers[4].body == #"{"n":5}"#)
            #expect(try errorObject(answers[5].body)["kind"] as? String == "not_found")
            #expect(answers[6].body == #"{"n":7}"#)
            let ids = answers.compactMap { $0.headers["x-request-id"] }
            #expect(ids.count == 5 && Set(ids).count == 5)  // every prediction has its own id
        }

        @Test("a prediction gets the same answer on the fast path and on the Hummingbird path", arguments: [
            (#"{"a":[1,2.5,"x"]}"#, 200), ("{bad", 400), ("", 400),
        ])
        func bothPathsAnswerAlike(body: String, status: Int) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.sized(body))
            let fast = try connection.readResponse()
            try connection.send(Self.chunked(body))
            let normal = try connection.readResponse()
            #expect(fast.status == status)
            #expect(normal.status == status)
            #expect(fast.body == normal.body)
            for name in ["content-type", "content-length"] {
                #expect(fast.headers[name] == normal.headers[name], "\(name)")
            }
            for answer in [fast, normal] {
                #expect(answer.headers["x-request-id"]?.isEmpty == false)
                #expect(answer.headers["date"]?.hasSuffix(" GMT") == true)
            }
            if status != 200 {
                #expect(try errorObject(fast.body)["api"] as? String == "echo")
            }
        }

        @Test("Connection: close gets its answer and then the connection is closed")
        func connectionCloseIsHonoured() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.sized(#"{"last":true}"#, extra: "Connection: close\r\n"))
            let answer = try connection.readResponse()
            #expect(answer.status == 200)
            #expect(answer.body == #"{"last":true}"#)
            #expect(try connection.readUntilClosed(timeout: 5) == "")
        }

        // RFC 9112 §9.3: which requests persist the connection (ConnectionPersistence.swift).
        @Test("a request that does not persist the connection (HTTP/1.0, or a close token in any case) is answered, then the connection closes", arguments: [
            ("HTTP/1.0", ""), ("HTTP/1.0", "Connection: close\r\n"), ("HTTP/1.1", "Connection: Close\r\n"),
            ("HTTP/1.1", "Connection: close, TE\r\nTE: trailers\r\n"), ("HTTP/1.0", "Connection: keep-alive, close\r\n"),
        ])
        func nonPersistentRequestsCloseTheConnection(version: String, extra: String) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            let body = #"{"v":"\#(version)"}"#
            try connection.send(
                "POST /echo \(version)\r\nHost: t\r\nContent-Type: application/json\r\n\(extra)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let answer = try connection.readResponse()
            #expect(answer.status == 200)
            #expect(answer.body == body)
            #expect(answer.headers["connection"] == "close")  // so a client does not reuse it
            #expect(try connection.readUntilClosed(timeout: 5) == "")  // an HTTP/1.0 client reads until the close
        }

        @Test("an HTTP/1.0 request with Transfer-Encoding (faulty framing in 1.0) is answered, then the connection closes even with keep-alive")
        func http10TransferEncodingCloses() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(
                "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"n\":1}\r\n0\r\n\r\n")
            let answer = try connection.readResponse()
            #expect(answer.status == 200)
            #expect(answer.body == #"{"n":1}"#)
            #expect(answer.headers["connection"] == "close")
            #expect(try connection.readUntilClosed(timeout: 5) == "")
        }

        @Test("an HTTP/1.0 request asking for keep-alive gets Connection: keep-alive and the connection serves the next one")
        func http10KeepAliveIsConfirmed() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            for n in 1...2 {
                let body = #"{"n":\#(n)}"#
                try connection.send(
                    "POST /echo HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                let answer = try connection.readResponse()
                #expect(answer.status == 200)
                #expect(answer.body == body)
                #expect(answer.headers["connection"]?.lowercased() == "keep-alive")
            }
        }

        // Events and errors behind a fast-path request wait for its answer (cases from an
        // adversarial trial, where Hummingbird closed the connection under the request).
        @Test("a client that half-closes after its request still gets the answer, then the connection ends")
        func halfCloseAfterTheRequestGetsTheAnswer() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.sized(#"{"half":1}"#) + Self.sized(#"{"half":2}"#))
            connection.shutdownWrite()
            let answers = [try connection.readResponse(), try connection.readResponse()]
            #expect(answers.map(\.status) == [200, 200])
            #expect(answers.map(\.body) == [#"{"half":1}"#, #"{"half":2}"#])
            #expect(try connection.readUntilClosed(timeout: 5) == "")
        }

        @Test("bytes that do not parse, sent behind a valid request in the same write, get 400 after its answer", arguments: [
            "BOGUS\u{1} / HTTP/1.1\r\n\r\n", "\r\n\r\nnot http at all",
        ])
        func garbageBehindARequestWaitsForItsAnswer(garbage: String) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.sized(#"{"ok":1}"#) + garbage)
            let first = try connection.readResponse()
            #expect(first.status == 200)
            #expect(first.body == #"{"ok":1}"#)
            let second = try connection.readResponse()
            #expect(second.status == 400)
            #expect(try connection.readUntilClosed(timeout: 5) == "")
        }

        @Test("a request with Connection: close pipelined behind a fast-path one: both answered, then the connection ends")
        func connectionCloseBehindAFastRequest() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(
                Self.sized(#"{"n":1}"#) + Self.sized(#"{"n":2}"#, extra: "Connection: close\r\n") + Self.sized(#"{"n":3}"#))
            let answers = [try connection.readResponse(), try connection.readResponse()]
            #expect(answers.map(\.status) == [200, 200])
            #expect(answers.map(\.body) == [#"{"n":1}"#, #"{"n":2}"#])
            #expect(try connection.readUntilClosed(timeout: 5).isEmpty)
        }

        @Test("Expect: 100-continue gets 100 Continue before the body from HTTP/1.1 and is ignored from HTTP/1.0 (no 1xx), then the answer", arguments: [
            "HTTP/1.1", "HTTP/1.0",
        ])
        func expectContinue(version: String) async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            let body = #"{"expect":"\#(version)"}"#
            try connection.send(
                "POST /echo \(version)\r\nHost: t\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
            if version == "HTTP/1.1" {
                let interim = try connection.readResponse()
                #expect(interim.status == 100)
            } else {
                try await Task.sleep(for: .milliseconds(300))  // a 100 Continue would be here by now
            }
            try connection.send(body)
            let answer = try connection.readResponse()  // for HTTP/1.0, the first answer read
            #expect(answer.status == 200)
            #expect(answer.body == body)
        }

        @Test("the Date header is an IMF-fixdate within a few seconds of now")
        func dateHeaderIsCurrent() async throws {
            let server = try await deployed()
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            try connection.send(Self.sized("{}"))
            let date = try #require(try connection.readResponse().headers["date"])
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let parsed = try #require(formatter.date(from: date))
            #expect(abs(parsed.timeIntervalSinceNow) < 5)
        }
    }
}

/// One HTTP/1.1 response read off a raw connection.
struct RawHTTPResponse {
    var status: Int
    /// Header names in lower case.
    var headers: [String: String]
    var body: String
}

/// A blocking TCP connection to 127.0.0.1 that writes request bytes as given and reads
/// responses framed by `Content-Length` or chunked encoding (enough for these tests).
final class RawHTTPConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { Glibc.close(fd); throw Failure(description: "connect failed") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() { Glibc.close(fd) }

    /// Half-closes: the server reads end of stream, the connection stays open for answers.
    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    func send(_ text: String) throws {
        try send(bytes: Array(text.utf8))
    }

    func send(bytes array: [UInt8]) throws {
        var bytes = array[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send failed") }
            bytes = bytes.dropFirst(sent)
        }
    }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: slowRead?.bytes ?? 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 { throw Failure(description: "recv failed or timed out (errno \(errno))") }
        buffer += chunk[..<count]
        if let slowRead { usleep(slowRead.pauseMicroseconds) }
        return count > 0
    }

    /// When set, each read takes at most `bytes` and is followed by a pause: a slow client.
    var slowRead: (bytes: Int, pauseMicroseconds: UInt32)?

    private func line() throws -> String {
        while true {
            if let end = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 2)
                return text
            }
            guard try fill() else { throw Failure(description: "connection closed inside a line") }
        }
    }

    private func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw Failure(description: "connection closed inside a body") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    func readResponse() throws -> RawHTTPResponse {
        let statusLine = try line().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(description: "bad status line \(statusLine)")
        }
        var headers: [String: String] = [:]
        while case let header = try line(), !header.isEmpty {
            let parts = header.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        var body: [UInt8] = []
        if let length = headers["content-length"].flatMap(Int.init) {
            body = try bytes(length)
        } else if headers["transfer-encoding"] == "chunked" {
            while let size = Int(try line(), radix: 16), size > 0 {
                body += try bytes(size)
                _ = try line()
            }
            _ = try line()
        }
        return RawHTTPResponse(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    /// True when bytes (or the end of the stream) can be read within `milliseconds`.
    func readable(within milliseconds: Int32) -> Bool {
        if !buffer.isEmpty { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    /// What arrives until the server closes the connection (throws when `timeout` seconds pass).
    func readUntilClosed(timeout: Int) throws -> String {
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        while try fill() {}
        defer { buffer.removeAll() }
        return String(decoding: buffer, as: UTF8.self)
    }
}
