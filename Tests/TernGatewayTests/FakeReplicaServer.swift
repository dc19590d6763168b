import Foundation
import NIOCore
import NIOPosix

@testable import TernGateway

/// A fake replica for gateway unit tests: a Unix-socket server speaking the frame protocol, whose
/// last handler (`makeHandler`) answers the frames. Close it with ``close()``.
struct FakeReplicaServer {
    /// The socket path to connect to.
    let socketPath: String
    private let channel: any Channel

    /// Binds a fresh socket under the temporary directory.
    static func start(
        _ makeHandler: @escaping @Sendable () -> any ChannelHandler
    ) async throws -> FakeReplicaServer {
        let path = FileManager.default.temporaryDirectory.path + "/tern-test-\(UUID().uuidString.prefix(8)).sock"
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(ReplicaFrameDecoder()), ReplicaFrameEncoder(), makeHandler(),
                    ])
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        return FakeReplicaServer(socketPath: path, channel: channel)
    }

    /// Stops listening and removes the socket file.
    func close() async {
        try? await channel.close()
        try? FileManager.default.removeItem(atPath: socketPath)
    }
}
