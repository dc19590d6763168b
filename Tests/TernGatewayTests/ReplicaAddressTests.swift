import NIOCore
import NIOPosix
import TernCore
import Testing

@testable import TernGateway

/// ``ReplicaConnection/connect(to:group:)`` speaks the same frames over TCP as over a Unix socket.
@Suite struct ReplicaAddressTests {
    /// Answers every frame (`hello`, `health`) with status 200, echoing its id.
    private final class OKReplica: ChannelInboundHandler {
        typealias InboundIn = ReplicaFrame
        typealias OutboundOut = ReplicaFrame

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let header = #"{"id":0,"status":200,"protocol":1,"pid":1,"accepts":["payload"]}"#
            context.writeAndFlush(
                wrapOutboundOut(ReplicaFrame(header: ByteBuffer(string: header), body: ByteBuffer())), promise: nil)
        }
    }

    @Test func aWorkerAtATCPAddressIsConnectedAndAnswersHealth() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(ReplicaFrameDecoder()), ReplicaFrameEncoder(), OKReplica(),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        do {
            let connection = try await ReplicaConnection.connect(
                to: .tcp(host: "127.0.0.1", port: port), group: MultiThreadedEventLoopGroup.singleton)
            #expect(connection.acceptsQuery == false)
            #expect(await connection.checkHealth())
            await connection.close()
        } catch {
            try? await server.close()
            throw error
        }
        try await server.close()
    }

    @Test func addressesDescribeThemselvesForLogs() {
        #expect(ReplicaAddress.unix(path: "/h/run/iris-1/worker-0.sock").description == "/h/run/iris-1/worker-0.sock")
        #expect(ReplicaAddress.tcp(host: "10.0.0.7", port: 9000).description == "10.0.0.7:9000")
        #expect(ReplicaAddress.tcp(host: "::1", port: 9000).description == "[::1]:9000")
    }
}
