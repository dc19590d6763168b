import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import Testing

@testable import TernGateway

/// The `predict` frame header of a ``ReplicaRequest`` (``ReplicaRequest/header(for:)``) against a ``ReplicaConnection`` to a fake replica that only
/// answers `hello` (declaring `accepts`).
@Suite struct PredictHeaderTests {
    /// Answers every frame with a `hello` reply.
    private final class HelloReplica: ChannelInboundHandler {
        typealias InboundIn = ReplicaFrame
        typealias OutboundOut = ReplicaFrame
        let acceptsJSON: String
        init(acceptsJSON: String) { self.acceptsJSON = acceptsJSON }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let header = #"{"id":0,"status":200,"protocol":1,"pid":1,"accepts":"# + acceptsJSON + "}"
            context.writeAndFlush(
                wrapOutboundOut(ReplicaFrame(header: ByteBuffer(string: header), body: ByteBuffer())), promise: nil)
        }
    }

    /// Runs `body` with a connection to a fake replica whose predictor accepts `accepts`.
    private func withConnection(
        accepts: [String], _ body: (ReplicaConnection) throws -> Void
    ) async throws {
        let acceptsJSON = "[" + accepts.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        let server = try await FakeReplicaServer.start { HelloReplica(acceptsJSON: acceptsJSON) }
        do {
            let connection = try await ReplicaConnection.connect(
                socketPath: server.socketPath, group: MultiThreadedEventLoopGroup.singleton)
            defer { connection.channel.close(promise: nil) }
            try body(connection)
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    /// The header the exchange sends for `request` (with id `requestID`) on `connection`.
    private func predictHeader(_ request: Request, requestID: String, connection: ReplicaConnection) -> ByteBuffer {
        var replicaRequest = ReplicaRequest(predict: request, body: ByteBuffer())
        replicaRequest.requestID = requestID
        return replicaRequest.header(for: connection)
    }

    private func request(path: String, headers: HTTPFields) -> Request {
        var head = HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: path)
        head.headerFields = headers
        return Request(head: head, body: .init(buffer: ByteBuffer()))
    }

    private func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))
        return try #require(parsed as? [String: Any])
    }

    @Test func headerCarriesPathQueryContentTypeAndLowercasedHeadersWhenAccepted() async throws {
        try await withConnection(accepts: ["payload", "query_params", "headers"]) { connection in
            let headers: HTTPFields = [
                .contentType: "application/json", HTTPField.Name("X-User")!: #"7 "quoted" \ slash"#,
            ]
            let header = predictHeader(
                request(path: "/iris?model=a&v=%22x%22", headers: headers), requestID: "3f9a-17", connection: connection
            )
            let json = try object(header)
            #expect(Set(json.keys) == ["kind", "id", "request_id", "path", "query", "content_type", "headers"])
            #expect(json["kind"] as? String == "predict")
            #expect(json["id"] as? Int == 1)
            #expect(json["request_id"] as? String == "3f9a-17")
            #expect(json["path"] as? String == "/iris")
            #expect(json["query"] as? String == "model=a&v=%22x%22")
            #expect(json["content_type"] as? String == "application/json")
            #expect(
                json["headers"] as? [String: String]
                    == ["content-type": "application/json", "x-user": #"7 "quoted" \ slash"#])
        }
    }

    @Test func headerLeavesOutQueryAndHeadersThePredictorDoesNotAccept() async throws {
        try await withConnection(accepts: ["payload"]) { connection in
            let header = predictHeader(
                request(path: "/iris?model=a", headers: [.contentType: "text/plain"]), requestID: "1",
                connection: connection)
            let json = try object(header)
            #expect(Set(json.keys) == ["kind", "id", "request_id", "path", "content_type"])
            #expect(json["content_type"] as? String == "text/plain")
        }
    }

    @Test func headerOmitsAnEmptyQueryAndAMissingContentType() async throws {
        try await withConnection(accepts: ["payload", "query_params", "headers"]) { connection in
            let header = predictHeader(
                request(path: "/a/b?", headers: [:]), requestID: "2", connection: connection)
            let json = try object(header)
            #expect(Set(json.keys) == ["kind", "id", "request_id", "path", "headers"])
            #expect(json["path"] as? String == "/a/b")
            #expect(json["headers"] as? [String: String] == [:])
        }
    }
}
