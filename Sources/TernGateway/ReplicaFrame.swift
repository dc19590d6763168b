import HTTPTypes
import NIOCore

// The frame codec is public only so that bench/micro (a separate package) can measure it; it is
// the gateway's wire format, not an API for other modules. (`@_spi` would hide it better, but an
// SPI symbol is invisible to `@testable import` too, so every test file would need the SPI import.)

/// One frame of the replica protocol (docs/replica-protocol.md): a JSON header and a raw body.
///
/// Wire form: `u32 header length`, `u32 body length` (big-endian), header bytes, body bytes.
public struct ReplicaFrame: Sendable {
    /// UTF-8 JSON object.
    public var header: ByteBuffer
    /// Raw bytes, passed through untouched.
    public var body: ByteBuffer

    /// A frame of `header` (a UTF-8 JSON object) and `body`.
    public init(header: ByteBuffer, body: ByteBuffer) {
        self.header = header
        self.body = body
    }

    /// The wire bytes of the frame: the two lengths and the header in one new buffer, followed
    /// by the body when it is under 4 KiB (one write); a larger body is returned as is, to be
    /// written after the head without a copy.
    public func encoded(allocator: ByteBufferAllocator) -> (head: ByteBuffer, body: ByteBuffer?) {
        let bodyBytes = body.readableBytes
        let copiesBody = bodyBytes < 4096
        var head = allocator.buffer(capacity: 8 + header.readableBytes + (copiesBody ? bodyBytes : 0))
        head.writeMultipleIntegers(UInt32(header.readableBytes), UInt32(bodyBytes))
        head.writeImmutableBuffer(header)
        guard copiesBody else { return (head, body) }
        head.writeImmutableBuffer(body)
        return (head, nil)
    }
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
public struct ReplicaFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ReplicaFrame

    /// A decoder (it keeps no state between frames).
    public init() {}

    /// Takes one whole frame off the front of `buffer` (its header and body are slices of
    /// `buffer`, not copies), or returns nil and consumes nothing until one has arrived.
    /// - Throws: ``ReplicaFrameError`` when a length is over the protocol's limit.
    public mutating func decode(buffer: inout ByteBuffer) throws -> ReplicaFrame? {
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

    /// As ``decode(buffer:)``: bytes of an incomplete last frame are left unread.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ReplicaFrame? {
        try decode(buffer: &buffer)
    }
}

/// Writes ``ReplicaFrame``s: the two lengths and the header in one buffer, the body as is
/// (no copy of the body).
final class ReplicaFrameEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ReplicaFrame
    typealias OutboundOut = ByteBuffer

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (head, body) = unwrapOutboundIn(data).encoded(allocator: context.channel.allocator)
        if let body {
            context.write(wrapOutboundOut(head), promise: nil)
            context.write(wrapOutboundOut(body), promise: promise)
        } else {
            context.write(wrapOutboundOut(head), promise: promise)
        }
    }
}

@available(*, unavailable)
extension ReplicaFrameEncoder: Sendable {}
