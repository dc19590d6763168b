import NIOCore
import NIOEmbedded
import Testing

@testable import TernGateway

@Suite struct ReplicaFrameTests {
    /// The wire form of one frame, built independently of the encoder.
    private func wire(header: String, body: [UInt8]) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        func bigEndian(_ value: Int) -> [UInt8] {
            [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        }
        return bigEndian(headerBytes.count) + bigEndian(body.count) + headerBytes + body
    }

    private func decodingChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ReplicaFrameDecoder()))
        return channel
    }

    private func strings(_ frame: ReplicaFrame?) -> (header: String, body: [UInt8])? {
        frame.map { (String(buffer: $0.header), Array($0.body.readableBytesView)) }
    }

    @Test func decoderWaitsForTheWholeFrameWhenBytesArriveOneAtATime() throws {
        let channel = try decodingChannel()
        let bytes = wire(header: #"{"status":200}"#, body: [0, 1, 2, 255])
        for (index, byte) in bytes.enumerated() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            if index < bytes.count - 1 {
                #expect(try channel.readInbound(as: ReplicaFrame.self) == nil, "frame emitted after \(index + 1) bytes")
            }
        }
        let frame = try #require(strings(try channel.readInbound(as: ReplicaFrame.self)))
        #expect(frame.header == #"{"status":200}"#)
        #expect(frame.body == [0, 1, 2, 255])
        #expect(try channel.readInbound(as: ReplicaFrame.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test func decoderSplitsTwoFramesArrivingInOneBuffer() throws {
        let channel = try decodingChannel()
        let bytes =
            wire(header: #"{"id":1}"#, body: Array("first".utf8)) + wire(header: #"{"id":2}"#, body: [])
            + wire(header: #"{"id":3}"#, body: [9]).prefix(5)
        try channel.writeInbound(ByteBuffer(bytes: bytes))

        let first = try #require(strings(try channel.readInbound(as: ReplicaFrame.self)))
        #expect(first.header == #"{"id":1}"#)
        #expect(first.body == Array("first".utf8))
        let second = try #require(strings(try channel.readInbound(as: ReplicaFrame.self)))
        #expect(second.header == #"{"id":2}"#)
        #expect(second.body == [])
        // The third frame is incomplete: nothing yet, and its bytes stay buffered.
        #expect(try channel.readInbound(as: ReplicaFrame.self) == nil)
        try channel.writeInbound(ByteBuffer(bytes: wire(header: #"{"id":3}"#, body: [9]).dropFirst(5)))
        let third = try #require(strings(try channel.readInbound(as: ReplicaFrame.self)))
        #expect(third.header == #"{"id":3}"#)
        #expect(third.body == [9])
    }

    @Test func decoderRejectsAHeaderLengthOverTheLimit() throws {
        let channel = try decodingChannel()
        var prefix = ByteBuffer()
        prefix.writeMultipleIntegers(UInt32(maxFrameHeaderBytes + 1), UInt32(0))
        #expect {
            try channel.writeInbound(prefix)
        } throws: { error in
            (error as? ReplicaFrameError)?.description.contains("header \(maxFrameHeaderBytes + 1) bytes") == true
        }
    }

    @Test func decoderRejectsABodyLengthOverTheLimit() throws {
        let channel = try decodingChannel()
        var prefix = ByteBuffer()
        prefix.writeMultipleIntegers(UInt32(2), UInt32(maxFrameBodyBytes + 1))
        #expect(throws: ReplicaFrameError.self) { try channel.writeInbound(prefix) }
    }

    @Test func decoderAcceptsLengthsExactlyAtTheLimitAndWaitsForTheBytes() throws {
        let channel = try decodingChannel()
        var prefix = ByteBuffer()
        prefix.writeMultipleIntegers(UInt32(maxFrameHeaderBytes), UInt32(maxFrameBodyBytes))
        try channel.writeInbound(prefix)
        #expect(try channel.readInbound(as: ReplicaFrame.self) == nil)
    }

    private func encoded(header: String, body: [UInt8]) throws -> [ByteBuffer] {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ReplicaFrameEncoder())
        try channel.writeOutbound(ReplicaFrame(header: ByteBuffer(string: header), body: ByteBuffer(bytes: body)))
        var buffers: [ByteBuffer] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { buffers.append(buffer) }
        return buffers
    }

    @Test(arguments: [0, 1, 4095])
    func encoderWritesASmallFrameAsOneBuffer(bodyBytes: Int) throws {
        let body = (0..<bodyBytes).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let buffers = try encoded(header: #"{"kind":"predict","id":1}"#, body: body)
        #expect(buffers.count == 1)
        #expect(
            buffers.flatMap { Array($0.readableBytesView) } == wire(header: #"{"kind":"predict","id":1}"#, body: body))
    }

    @Test(arguments: [4096, 70_000])
    func encoderWritesALargeBodyAsItsOwnBuffer(bodyBytes: Int) throws {
        let body = (0..<bodyBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let buffers = try encoded(header: #"{"id":2}"#, body: body)
        #expect(buffers.count == 2)
        #expect(buffers.flatMap { Array($0.readableBytesView) } == wire(header: #"{"id":2}"#, body: body))
        #expect(Array(buffers[1].readableBytesView) == body)
    }

    @Test func encodedFrameDecodesToTheSameHeaderAndBody() throws {
        let body = Array(repeating: UInt8(0x5a), count: 5000)
        let bytes = try encoded(header: #"{"status":200,"content_type":"text/plain"}"#, body: body)
        let channel = try decodingChannel()
        for buffer in bytes { try channel.writeInbound(buffer) }
        let frame = try #require(strings(try channel.readInbound(as: ReplicaFrame.self)))
        #expect(frame.header == #"{"status":200,"content_type":"text/plain"}"#)
        #expect(frame.body == body)
    }
}
