import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import Testing
import TernCore

@testable import TernGateway

/// The gateway's connection-level refusals: which decoder error gets which answer
/// (``ConnectionRefusal``), the order of a refusal behind an answer still being written
/// (``ProtocolErrorResponder``), the connection count, and the header deadline of
/// ``ClientIdleTimeout`` on an `EmbeddedEventLoop` (its clock advanced by hand). End to end:
/// `HostileHTTPTests`.
@Suite(.timeLimit(.minutes(1))) struct ConnectionRefusalTests {
    private let limits = ConnectionLimits()

    private func decoded(_ answer: GatewayAnswer?) throws -> (status: Int, kind: String, message: String) {
        let answer = try #require(answer)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView)) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        #expect(answer.headers[.connection] == "close")
        #expect(answer.headers[.contentType] == "application/json")
        return (answer.status, error["kind"] as? String ?? "", error["message"] as? String ?? "")
    }

    @Test func decoderErrorsMapToStatuses() throws {
        let overflow = try decoded(ConnectionRefusal.answer(to: HTTPParserError.headerOverflow, limits: limits))
        #expect(overflow.status == 431 && overflow.kind == "headers_too_large")
        #expect(overflow.message.contains("81920 bytes") && overflow.message.contains("100 header fields"))
        for error in [HTTPParserError.invalidVersion, .paused] {
            let version = try decoded(ConnectionRefusal.answer(to: error, limits: limits))
            #expect(version.status == 505 && version.kind == "http_version_not_supported")
        }
        for error in [HTTPParserError.invalidMethod, .invalidURL, .invalidHeaderToken, .invalidChunkSize] {
            let bad = try decoded(ConnectionRefusal.answer(to: error, limits: limits))
            #expect(bad.status == 400 && bad.kind == "bad_request")
        }
        #expect(ConnectionRefusal.answer(to: ChannelError.ioOnClosedChannel, limits: limits) == nil)
    }

    @Test func timeoutAndLimitAnswers() throws {
        let timeout = try decoded(ConnectionRefusal.headerTimeout(.milliseconds(1500)))
        #expect(timeout.status == 408 && timeout.kind == "header_timeout")
        #expect(timeout.message.contains("within 1.5 s"))
        let answer = ConnectionRefusal.tooManyConnections(limit: 7)
        #expect(answer.headers[.retryAfter] == "1")
        let limit = try decoded(answer)
        #expect(limit.status == 503 && limit.kind == "too_many_connections")
        #expect(limit.message.contains("limit of 7 open client connections"))
    }

    @Test func http1BytesCarryStatusLineFieldsAndLength() {
        let answer = GatewayAnswer.error(status: 431, kind: .headersTooLarge, message: "m", api: nil, headers: [.connection: "close"])
        let text = String(buffer: answer.http1Bytes(date: "Mon, 07 Dec 2026 12:00:00 GMT"))
        let body = #"{"error":{"kind":"headers_too_large","message":"m"}}"#
        #expect(text == "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nDate: Mon, 07 Dec 2026 12:00:00 GMT\r\n\r\n\(body)")
    }

    @Test func theCounterAdmitsUpToItsLimit() {
        let counter = ConnectionCounter(limit: 2)
        #expect(counter.admit() && counter.admit())
        #expect(!counter.admit())
        #expect(counter.current == 2)
        counter.release()
        #expect(counter.admit())
        #expect(!counter.admit())
    }

    @Test func refusedConnectionsLingerOnlyUpToTheirBudgetThenCloseAtOnce() throws {
        // Limit 16: 2 refusals may linger (an eighth); an over-limit connection while both linger
        // is closed without an answer, so refused clients cannot use up the descriptors in reserve.
        let counter = ConnectionCounter(limit: 16)
        #expect(counter.refusalLimit == 2)
        for _ in 0..<16 { #expect(counter.admit()) }
        func connect() throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(
                handler: ProtocolErrorResponder(limits: limits, dates: HTTPDateCache(), connections: counter))
            _ = try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            return channel
        }
        // One refused connection gets its 503 (an EmbeddedChannel cannot half-close, so its
        // lingering close ends at once and frees its place in the budget).
        let refused = try connect()
        let answer = try #require(try refused.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: answer).hasPrefix("HTTP/1.1 503 "))
        // Two refusals lingering (on real sockets): the next over-limit connection is just closed.
        #expect(counter.admitRefusal() && counter.admitRefusal())
        let closed = try connect()
        #expect(try closed.readOutbound(as: ByteBuffer.self) == nil)
        #expect(!closed.isActive)
        counter.releaseRefusal()
        let answered = try connect()
        #expect(try answered.readOutbound(as: ByteBuffer.self).map { String(buffer: $0).hasPrefix("HTTP/1.1 503 ") } == true)
        #expect(counter.current == 16)
    }

    /// A decoder error behind a request whose answer is not written yet is answered after that
    /// answer's end, not before it (HTTP/1.1 order).
    @Test func aRefusalWaitsForTheAnswerInProgress() throws {
        let channel = EmbeddedChannel(
            handler: ProtocolErrorResponder(limits: limits, dates: HTTPDateCache(), connections: nil))
        _ = try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let head = HTTPRequest(method: .get, scheme: nil, authority: "t", path: "/healthz")
        try channel.writeInbound(HTTPRequestPart.head(head))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil)
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil)
        channel.pipeline.fireErrorCaught(HTTPParserError.headerOverflow)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)  // the answer is still due
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        #expect(try channel.readOutbound(as: HTTPResponsePart.self).map { if case .head = $0 { true } else { false } } == true)
        #expect(try channel.readOutbound(as: HTTPResponsePart.self).map { if case .end = $0 { true } else { false } } == true)
        let refusal = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: refusal).hasPrefix("HTTP/1.1 431 "))
        // Bytes after the refusal are discarded, not decoded.
        try channel.writeInbound(HTTPRequestPart.head(head))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil)
        _ = try? channel.finish()
    }

    /// Passes bytes on and reports a head complete when they hold its end (`\r\n\r\n`).
    private final class HeadSpotter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let clock: ClientIdleTimeout
        var timedOut = 0
        init(clock: ClientIdleTimeout) { self.clock = clock }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if String(buffer: unwrapInboundIn(data)).contains("\r\n\r\n") {
                clock.headArrived()
                clock.requestEnded()
            }
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ClientIdleTimeout.HeaderTimedOut { timedOut += 1 }
        }
    }

    @Test func aHeadTricklingPastTheDeadlineIsReportedOnce() throws {
        let loop = EmbeddedEventLoop()
        let clock = ClientIdleTimeout(timeout: .seconds(60), headerTimeout: .seconds(2))
        let spotter = HeadSpotter(clock: clock)
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([clock, spotter])
        _ = try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // A whole head in one read starts no deadline.
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        loop.advanceTime(by: .seconds(5))
        #expect(spotter.timedOut == 0)
        // A head that keeps trickling (a byte a second) is reported 2 s after its first byte.
        for _ in 0..<3 {
            try channel.writeInbound(ByteBuffer(string: "x"))
            loop.advanceTime(by: .milliseconds(900))
        }
        #expect(spotter.timedOut == 1)
        loop.advanceTime(by: .seconds(1))
        #expect(spotter.timedOut == 1)
        _ = try? channel.finish()
    }
}
