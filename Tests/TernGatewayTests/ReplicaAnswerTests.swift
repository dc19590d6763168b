import HTTPTypes
import NIOCore
import Testing

@testable import TernGateway

/// A replica's response frame as the client's answer (``ReplicaRequest/answer(for:api:)``):
/// the status and header fields a predictor's response object sets pass through, the fields
/// the gateway owns do not, and a status no HTTP answer may have is a 502, never a crash.
@Suite struct ReplicaAnswerTests {
    private let request = ReplicaRequest(kind: .predict, path: "/api", query: nil, headers: [:], body: ByteBuffer())

    private func answer(_ header: String, _ body: String = "") -> GatewayAnswer {
        let reply = ReplicaFrame(header: ByteBuffer(string: header), body: ByteBuffer(string: body))
        return request.answer(for: reply, header: try? ReplicaResponseHeader(parsing: reply.header), api: "api")
    }

    @Test func aResponseObjectsStatusAndFieldsPassThroughInOrder() {
        let answer = answer(
            #"{"id":1,"status":201,"content_type":"application/json","headers":[["location","/items/7"],["set-cookie","a=1"],["set-cookie","b=2"]]}"#,
            #"{"id":7}"#)
        #expect(answer.status == 201)
        #expect(answer.headers[.contentType] == "application/json")
        #expect(answer.headers[.location] == "/items/7")
        #expect(answer.headers[values: .setCookie] == ["a=1", "b=2"])
        #expect(answer.headers[.requestID] == request.requestID)
        #expect(String(buffer: answer.body) == #"{"id":7}"#)
    }

    @Test func fieldsTheGatewayOwnsAndInvalidPairsAreDropped() {
        let answer = answer(
            #"{"id":1,"status":200,"content_type":"text/plain","headers":[["content-length","999"],["x-request-id","mine"],["transfer-encoding","chunked"],["connection","close"],["date","x"],["content-type","text/html"],["bad name","v"],["x-ok","line\nbreak"],["x-one"],["x-kept","yes"]]}"#,
            "hi")
        #expect(answer.headers.count == 3, "\(answer.headers)")
        #expect(answer.headers[.contentType] == "text/plain")
        #expect(answer.headers[.requestID] == request.requestID)
        #expect(answer.headers[HTTPField.Name("x-kept")!] == "yes")
    }

    @Test(arguments: [
        (#"{"id":1,"status":99}"#, "an answer's status must be 200 to 599"),
        (#"{"id":1,"status":1000}"#, "an answer's status must be 200 to 599"),
        (#"{"id":1,"status":101}"#, "an answer's status must be 200 to 599"),
        (#"{"id":1,"status":-5}"#, "an answer's status must be 200 to 599"),
        (#"{"id":1,"status":200000,"error":{"kind":"x","message":"y"}}"#, "an error's status must be 400 to 599"),
        (#"{"id":1,"status":200,"error":{"kind":"x","message":"y"}}"#, "an error's status must be 400 to 599"),
    ])
    func aStatusNoAnswerMayHaveIsABadReplicaResponse(header: String, reason: String) {
        let answer = answer(header)
        #expect(answer.status == 502)
        let body = String(buffer: answer.body)
        #expect(body.contains(#""kind":"bad_replica_response""#), "\(body)")
        #expect(body.contains(reason), "\(body)")
    }

    @Test func aBatchItemWithAStatusNoAnswerMayHaveFailsTheBatchAs502() {
        let reply = ReplicaFrame(
            header: ByteBuffer(string: #"{"status":200,"items":[{"status":200,"content_type":"text/plain","length":1},{"status":7000,"content_type":"text/plain","length":1}]}"#),
            body: ByteBuffer(string: "ab"))
        let answers = PredictBatch.answers(to: reply, count: 2)
        #expect(answers.count == 2)
        for answer in answers {
            guard case .failure(502, "bad_replica_response", let message) = answer else {
                Issue.record("\(answer)")
                continue
            }
            #expect(message.contains("status 7000"))
        }
        let frameLevel = PredictBatch.answers(
            to: ReplicaFrame(header: ByteBuffer(string: #"{"status":1234,"error":{"kind":"k","message":"m"}}"#), body: ByteBuffer()),
            count: 1)
        #expect(frameLevel.count == 1)
        if case .failure(let status, let kind, _) = frameLevel[0] {
            #expect(status == 502 && kind == "bad_replica_response")
        } else {
            Issue.record("\(frameLevel)")
        }
    }
}
