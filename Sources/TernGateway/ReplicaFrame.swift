import NIOCore

/// One frame of the replica protocol (docs/replica-protocol.md): a JSON header and a raw body.
///
/// Wire form: `u32 header length`, `u32 body length` (big-endian), header bytes, body bytes.
struct ReplicaFrame: Sendable {
    /// UTF-8 JSON object.
    var header: ByteBuffer
    /// Raw bytes, passed through untouched.
    var body: ByteBuffer
}

/// Largest header accepted from a replica (1 MiB), as in the protocol.
let maxFrameHeaderBytes = 1 << 20
/// Largest body accepted from a replica (1 GiB), as in the protocol.
let maxFrameBodyBytes = 1 << 30

/// Errors of the frame layer.
struct ReplicaFrameError: Error, CustomStringConvertible {
    var description: String
    static func tooLarge(header: Int, body: Int) -> Self {
        Self(description: "replica frame too large (header \(header) bytes, body \(body) bytes)")
    }
}

/// Splits a byte stream into ``ReplicaFrame``s.
struct ReplicaFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ReplicaFrame

    mutating func decode(buffer: inout ByteBuffer) throws -> ReplicaFrame? {
        guard let (headerLength, bodyLength) = buffer.getMultipleIntegers(at: buffer.readerIndex, as: (UInt32, UInt32).self) else {
            return nil
        }
        let header = Int(headerLength)
        let body = Int(bodyLength)
        guard header <= maxFrameHeaderBytes, body <= maxFrameBodyBytes else {
            throw ReplicaFrameError.tooLarge(header: header, body: body)
        }
        guard buffer.readableBytes >= 8 + header + body else { return nil }
        buffer.moveReaderIndex(forwardBy: 8)
        let headerBytes = buffer.readSlice(length: header)!
        let bodyBytes = buffer.readSlice(length: body)!
        return ReplicaFrame(header: headerBytes, body: bodyBytes)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ReplicaFrame? {
        try decode(buffer: &buffer)
    }
}

/// Writes ``ReplicaFrame``s: the two lengths and the header in one buffer, the body as is
/// (no copy of the body).
final class ReplicaFrameEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ReplicaFrame
    typealias OutboundOut = ByteBuffer

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        var prefix = context.channel.allocator.buffer(capacity: 8 + frame.header.readableBytes)
        prefix.writeMultipleIntegers(UInt32(frame.header.readableBytes), UInt32(frame.body.readableBytes))
        prefix.writeImmutableBuffer(frame.header)
        if frame.body.readableBytes == 0 {
            context.write(wrapOutboundOut(prefix), promise: promise)
        } else if frame.body.readableBytes < 4096 {
            prefix.writeImmutableBuffer(frame.body)
            context.write(wrapOutboundOut(prefix), promise: promise)
        } else {
            context.write(wrapOutboundOut(prefix), promise: nil)
            context.write(wrapOutboundOut(frame.body), promise: promise)
        }
    }
}

@available(*, unavailable)
extension ReplicaFrameEncoder: Sendable {}
