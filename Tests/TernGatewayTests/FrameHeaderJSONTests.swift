import Foundation
import NIOCore
import Testing

@testable import TernGateway

/// The direct header reader and writer (FrameHeaderJSON.swift) against Foundation, which the
/// gateway used before: the same values for valid JSON, the same failures for missing or
/// mistyped fields.
@Suite struct FrameHeaderJSONTests {
    /// What a header decodes to, comparable (`ReplicaResponseHeader` is not `Equatable`).
    private struct Fields: Equatable, CustomStringConvertible {
        var id: Int?, status: Int, contentType: String?, error: [String]?, accepts: [String]?, pid: Int32?
        var timing: ReplicaResponseHeader.Timing?
        init(_ h: ReplicaResponseHeader) {
            (id, status, contentType, accepts, pid, timing) = (h.id, h.status, h.contentType, h.accepts, h.pid, h.timing)
            error = h.error.map { [$0.kind, $0.message] }
        }
        var description: String { "\(status) id=\(id as Any) ct=\(contentType as Any) error=\(error as Any) accepts=\(accepts as Any) pid=\(pid as Any)" }
    }

    private func direct(_ json: String) -> Fields? {
        (try? ReplicaResponseHeader(parsing: ByteBuffer(string: json))).map(Fields.init)
    }

    private func foundation(_ json: String) -> Fields? {
        (try? JSONDecoder().decode(ReplicaResponseHeader.self, from: Data(json.utf8))).map(Fields.init)
    }

    /// Headers the runtime sends, and valid JSON with every odd feature the reader handles.
    @Test(arguments: [
        #"{"id":1,"status":200,"content_type":"application/json","timing":{"predict_us":97}}"#,
        #"{"id": 1, "status": 200, "content_type": "text/plain; charset=utf-8", "timing": {"predict_us": 3}}"#,
        #"{"id":1,"status":500,"error":{"kind":"predictor_error","message":"ValueError: bad \"x\"\nline 2"},"timing":{"predict_us":5}}"#,
        #"{"kind":"hello","id":0,"status":200,"protocol":1,"pid":4242,"worker":0,"runtime":"0.1.0","accepts":["payload","headers"]}"#,
        #"{"id":null,"status":200}"#,
        #"{"status":404,"error":null,"content_type":null,"accepts":null,"pid":null}"#,
        #"{"status":200,"accepts":[]}"#,
        #"{"id":1,"status":200,"timing":{"predict_us":812,"started_unix_ns":1765140000123456789,"other":[1]}}"#,
        #"{"id":1,"status":200,"timing":null}"#,
        #"{"id":1,"status":200,"timing":{}}"#,
        #"  {"status":200}  "# + "\n",
        "\u{FEFF}{\"status\":200}",
        #"{"status":200,"content_type":"a\/b\u00e9\ud83d\ude00 \t\\"}"#,
        #"{"status":200,"content_type":"日本語 é 😀"}"#,
        #"{"status":200,"content_type":"a\u0000b"}"#,
        #"{"st\u0061tus":201,"content_\u0074ype":"x"}"#,
        #"{"status":200,"status":404,"content_type":"first","content_type":"second"}"#,
        #"{"status":200,"error":{"kind":"k","message":"m","kind":"z","extra":[1,{"a":null}]}}"#,
        #"{"status":200,"x":[1,{"a":[true,false,null]},-1.5e-3,0,-0.0,1E+2,"s\"\\"],"y":{}}"#,
        #"{"status":200.0}"#, #"{"status":2e2}"#, #"{"status":1.0e2}"#, #"{"status":-0}"#, #"{"status":-1}"#,
        #"{"status":-9223372036854775808}"#, #"{"status":200,"pid":2147483647}"#,
    ])
    func readsValidJSONAsFoundationDoes(json: String) throws {
        let expected = try #require(foundation(json), "Foundation rejects \(json)")
        #expect(direct(json) == expected)
    }

    /// Missing or mistyped fields, broken JSON: both reject (the gateway answers 502).
    @Test(arguments: [
        "", "   ", "null", "[]", #""status""#, "{}", #"{"id":1}"#, #"{"status":"200"}"#, #"{"status":2.5}"#,
        #"{"status":null}"#, #"{"status":true}"#, #"{"status":200} x"#, #"{"status":200"#, #"{"status":200,"x":tru}"#,
        #"{"status":200,"x":NaN}"#, #"{"status":200,"x":+1}"#, #"{"status":9223372036854775808}"#,
        #"{"status":20000000000000000000000}"#, #"{"status":1e400}"#, #"{"status":0200}"#, #"{"status":200,"id":1.5}"#,
        #"{"status":200,"pid":4294967296}"#, #"{"status":200,"accepts":["a",1]}"#, #"{"status":200,"accepts":"a"}"#,
        #"{"status":200,"error":{"kind":"k"}}"#, #"{"status":200,"error":"boom"}"#, #"{"status":200,"content_type":7}"#,
        #"{"status":200,"content_type":"unterminated}"#, #"{status:200}"#, #"{"status" 200}"#,
        "{\"status\":200,\"content_type\":\"raw\u{1}control\"}",
    ])
    func rejectsWhatFoundationRejects(json: String) {
        #expect(foundation(json) == nil)
        #expect(direct(json) == nil)
    }

    /// Not JSON, though Foundation let these through: the reader is strict (a replica never
    /// sends them; the gateway answers 502 as for any unreadable header).
    @Test(arguments: [
        #"{"status":200,}"#, #"{"status":200,"x":01}"#, #"{"status":200,"x":1.}"#, #"{"status":200,"x":-}"#,
        #"{"status":200,"x":1e}"#,
    ])
    func rejectsMalformedJSONFoundationTolerated(json: String) {
        #expect(direct(json) == nil)
    }

    @Test(arguments: [
        #"{"status":200,"content_type":"\ud800"}"#, #"{"status":200,"content_type":"\udc00x"}"#,
        #"{"status":200,"content_type":"\ud83dx"}"#, #"{"status":200,"content_type":"\u12"}"#,
        #"{"status":200,"content_type":"\q"}"#,
    ])
    func rejectsBrokenEscapesInAFieldItReads(json: String) {
        #expect(direct(json) == nil)
    }

    @Test func rejectsInvalidUTF8InAFieldItReads() {
        var buffer = ByteBuffer(string: #"{"status":200,"content_type":""#)
        buffer.writeBytes([0x61, 0xFF, 0x62])
        buffer.writeString(#""}"#)
        #expect(throws: FrameHeaderJSON.SyntaxError.self) { try ReplicaResponseHeader(parsing: buffer) }
    }

    @Test func rejectsNestingDeeperThan64InSkippedValues() {
        let deep = #"{"status":200,"x":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        #expect(direct(deep) == nil)
        let fine = #"{"status":200,"x":"# + String(repeating: "[", count: 60) + String(repeating: "]", count: 60) + "}"
        #expect(direct(fine)?.status == 200)
    }

    @Test func errorNamesTheByteWhereReadingStopped() {
        #expect {
            try ReplicaResponseHeader(parsing: ByteBuffer(string: #"{"status":20x}"#))
        } throws: { error in
            (error as? FrameHeaderJSON.SyntaxError) == .init(offset: 12, reason: "expected ',' or '}' in an object")
        }
    }

    @Test func readsAHeaderThatIsASliceOfALargerBuffer() throws {
        var wire = ByteBuffer(string: #"xx{"status":201,"content_type":"application/json"}yy"#)
        wire.moveReaderIndex(forwardBy: 2)
        let slice = try #require(wire.getSlice(at: wire.readerIndex, length: wire.readableBytes - 2))
        let header = try ReplicaResponseHeader(parsing: slice)
        #expect(header.status == 201)
        #expect(header.contentType == "application/json")
    }

    // MARK: the answer to a predict_batch frame

    /// What a batch answer header decodes to, comparable.
    private struct BatchFields: Equatable {
        var status: Int, error: [String]?, items: [[String?]]?
        init(_ h: BatchResponseHeader) {
            status = h.status
            error = h.error.map { [$0.kind, $0.message] }
            items = h.items?.map { [String($0.status), $0.contentType, $0.length.map(String.init), $0.error?.kind, $0.error?.message] }
        }
    }

    private func directBatch(_ json: String) -> BatchFields? {
        (try? BatchResponseHeader(parsing: ByteBuffer(string: json))).map(BatchFields.init)
    }

    private func foundationBatch(_ json: String) -> BatchFields? {
        (try? JSONDecoder().decode(BatchResponseHeader.self, from: Data(json.utf8))).map(BatchFields.init)
    }

    /// Batch answers the runtime sends, and odd but valid ones: read as Foundation reads them.
    @Test(arguments: [
        #"{"id":1,"status":200,"items":[{"status":200,"content_type":"application/json","length":8},{"status":400,"error":{"kind":"bad_payload","message":"m"}}],"timing":{"predict_us":120}}"#,
        #"{"id":1,"status":400,"error":{"kind":"invalid_batch","message":"no items"}}"#,
        #"{"status":200,"items":[]}"#, #"{"status":200,"items":null,"error":null}"#,
        #"{"status":200,"items":[{"status":200,"length":null,"content_type":null,"error":null,"x":[1]}]}"#,
        #"{"status":200,"items":[{"status":201,"status":500,"length":2,"length":3}],"items":[{"status":1}]}"#,
        #"{"status":2e2,"items":[{"status":200.0,"length":1e1}]}"#,
    ])
    func readsBatchAnswersAsFoundationDoes(json: String) throws {
        let expected = try #require(foundationBatch(json), "Foundation rejects \(json)")
        #expect(directBatch(json) == expected)
    }

    /// Missing or mistyped fields: both reject (every request of the batch gets 502).
    @Test(arguments: [
        "", "{}", #"{"items":[]}"#, #"{"status":200,"items":[{"length":1}]}"#, #"{"status":200,"items":{}}"#,
        #"{"status":200,"items":[{"status":200,"length":"8"}]}"#, #"{"status":200,"items":[1]}"#,
        #"{"status":200,"items":[{"status":200,"error":{"kind":"k"}}]}"#, #"{"status":200,"items":[{"status":200}"#,
        #"{"status":200,"items":[{"status":200},]}"#.replacingOccurrences(of: ",]", with: ",x]"),
    ])
    func rejectsBatchAnswersFoundationRejects(json: String) {
        #expect(foundationBatch(json) == nil)
        #expect(directBatch(json) == nil)
    }

    // MARK: writing

    @Test(arguments: [
        "", "plain", #"say "hi""#, #"C:\path\"#, "a\nb\rc\td", "\u{0}x\u{1f}\u{7f}", "\u{8}\u{c}\u{b}",
        "é 日本 😀", "\u{2028}</script>", "\u{feff}bom", String(repeating: "\\\"\n", count: 100),
        String(repeating: "long clean text ", count: 40),
    ])
    func writesTheSameBytesAsJSONTextQuoted(input: String) {
        var buffer = ByteBuffer()
        let written = buffer.writeJSONQuoted(input)
        #expect(String(buffer: buffer) == JSONText.quoted(input))
        #expect(written == buffer.readableBytes)
    }

    @Test func writtenStringParsesBackToTheInput() throws {
        let input = String(String.UnicodeScalarView((0..<0x80).compactMap(Unicode.Scalar.init))) + "é😀"
        var header = ByteBuffer(string: #"{"status":200,"content_type":"#)
        header.writeJSONQuoted(input)
        header.writeString("}")
        #expect(try ReplicaResponseHeader(parsing: header).contentType == input)
    }

    @Test func readsTheTimingOfATracedAnswer() throws {
        let header = try ReplicaResponseHeader(
            parsing: ByteBuffer(string: #"{"id":1,"status":200,"timing":{"predict_us":812,"started_unix_ns":1765140000123456789}}"#))
        #expect(header.timing == .init(predictMicroseconds: 812, startedUnixNanoseconds: 1_765_140_000_123_456_789))
        let plain = try ReplicaResponseHeader(parsing: ByteBuffer(string: #"{"id":1,"status":200,"timing":{"predict_us":97}}"#))
        #expect(plain.timing == .init(predictMicroseconds: 97, startedUnixNanoseconds: nil))
        #expect(throws: FrameHeaderJSON.SyntaxError.self) {
            try ReplicaResponseHeader(parsing: ByteBuffer(string: #"{"status":200,"timing":{"predict_us":"97"}}"#))
        }
    }
}
