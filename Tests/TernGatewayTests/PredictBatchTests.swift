import Foundation
import HTTPTypes
import NIOCore
import Testing

@testable import TernGateway

/// Building `predict_batch` frames and splitting their answers (docs/replica-protocol.md).
@Suite struct PredictBatchTests {
    private func request(
        _ id: String, body: String, contentType: String? = "application/json", query: String? = nil,
        headers: HTTPFields = [:]
    ) -> BatchRequest {
        BatchRequest(
            requestID: id, path: "/api", contentType: contentType, query: query, headers: headers,
            body: ByteBuffer(string: body))
    }

    private func header(_ frame: ReplicaFrame) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(frame.header.readableBytesView)) as? [String: Any])
    }

    private func reply(_ header: String, _ body: String = "") -> ReplicaFrame {
        ReplicaFrame(header: ByteBuffer(string: header), body: ByteBuffer(string: body))
    }

    @Test func frameListsTheItemsInOrderAndConcatenatesTheirBodies() throws {
        let requests = [
            request("r-1", body: #"{"a":1}"#, query: "x=1", headers: [.init("X-User")!: "7"]),
            request("r-2", body: "hi", contentType: "text/plain"),
            request("r-3", body: "", contentType: nil),
        ]
        let (frame, count) = PredictBatch.frame(requests, acceptsQuery: true, acceptsHeaders: true)
        #expect(count == 3)
        #expect(String(buffer: frame.body) == #"{"a":1}hi"#)
        let json = try header(frame)
        #expect(json["kind"] as? String == "predict_batch")
        #expect(json["path"] as? String == "/api")
        #expect(json["request_ids"] as? [String] == ["r-1", "r-2", "r-3"])
        let items = try #require(json["items"] as? [[String: Any]])
        #expect(items.map { $0["length"] as? Int } == [7, 2, 0])
        #expect(items.map { $0["content_type"] as? String } == ["application/json", "text/plain", nil])
        #expect(items[0]["query"] as? String == "x=1")
        #expect(items[0]["headers"] as? [String: String] == ["x-user": "7"])
        #expect(items[1]["query"] == nil)
    }

    @Test func queryAndHeadersAreLeftOutWhenPredictDoesNotDeclareThem() throws {
        let (frame, _) = PredictBatch.frame(
            [request("r", body: "1", query: "x=1", headers: [.init("X-User")!: "7"])],
            acceptsQuery: false, acceptsHeaders: false)
        let items = try #require(try header(frame)["items"] as? [[String: Any]])
        #expect(items[0].keys.sorted() == ["content_type", "length"])
    }

    @Test func frameTakesOnlyTheRequestsThatFitItsLimitsButAlwaysOne() {
        let requests = (0..<5).map { request("r-\($0)", body: String(repeating: "x", count: 10)) }
        #expect(PredictBatch.frame(requests, acceptsQuery: false, acceptsHeaders: false, maxBodyBytes: 25).count == 2)
        #expect(PredictBatch.frame(requests, acceptsQuery: false, acceptsHeaders: false, maxBodyBytes: 5).count == 1)
        #expect(PredictBatch.frame(requests, acceptsQuery: false, acceptsHeaders: false, maxHeaderBytes: 200).count < 5)
        #expect(PredictBatch.frame(requests, acceptsQuery: false, acceptsHeaders: false).count == 5)
    }

    @Test func answersAreSplitByLengthInOrder() {
        let answers = PredictBatch.answers(
            to: reply(
                #"{"id":1,"status":200,"items":[{"status":200,"content_type":"application/json","length":3},"#
                    + #"{"status":400,"error":{"kind":"invalid_json","message":"bad"}},"#
                    + #"{"status":200,"content_type":"text/plain; charset=utf-8","length":2}]}"#,
                "[1]ok"),
            count: 3)
        #expect(
            answers == [
                .reply(status: 200, contentType: "application/json", body: ByteBuffer(string: "[1]")),
                .failure(status: 400, kind: "invalid_json", message: "bad"),
                .reply(status: 200, contentType: "text/plain; charset=utf-8", body: ByteBuffer(string: "ok")),
            ])
    }

    @Test func aFrameLevelErrorIsEveryRequestsAnswer() {
        let answers = PredictBatch.answers(
            to: reply(#"{"id":1,"status":400,"error":{"kind":"invalid_batch","message":"no items"}}"#), count: 2)
        #expect(answers == Array(repeating: .failure(status: 400, kind: "invalid_batch", message: "no items"), count: 2))
    }

    @Test func anAnswerThatDoesNotMatchTheBatchIsABadReplicaResponseForEveryRequest() {
        let wrongCount = PredictBatch.answers(
            to: reply(#"{"status":200,"items":[{"status":200,"length":1}]}"#, "x"), count: 2)
        let wrongLengths = PredictBatch.answers(
            to: reply(#"{"status":200,"items":[{"status":200,"length":5}]}"#, "x"), count: 1)
        let unreadable = PredictBatch.answers(to: reply("not json"), count: 1)
        for answers in [wrongCount, wrongLengths, unreadable] {
            #expect(answers.allSatisfy {
                if case .failure(502, "bad_replica_response", _) = $0 { return true }
                return false
            })
        }
        #expect(wrongCount.count == 2)
    }
}
